"""The transports: one module per route, loaded on first use.

``from unisend.transports import SendGridTransport`` imports only the SendGrid module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from .base import Transport
    from .brevo import BrevoTransport
    from .console import ConsoleTransport
    from .mailjet import MailjetTransport
    from .mailtrap import MailtrapTransport
    from .memory import MemoryTransport
    from .postmark import PostmarkTransport
    from .sandbox import SandboxTransport
    from .scripted import ScriptedTransport
    from .sendgrid import SendGridTransport
    from .smtp import SMTPTransport

_LAZY = {
    "Transport": ".base",
    "SMTPTransport": ".smtp",
    "SendGridTransport": ".sendgrid",
    "PostmarkTransport": ".postmark",
    "MailjetTransport": ".mailjet",
    "BrevoTransport": ".brevo",
    "MailtrapTransport": ".mailtrap",
    "MemoryTransport": ".memory",
    "ConsoleTransport": ".console",
    "SandboxTransport": ".sandbox",
    "ScriptedTransport": ".scripted",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BrevoTransport",
    "ConsoleTransport",
    "MailjetTransport",
    "MailtrapTransport",
    "MemoryTransport",
    "PostmarkTransport",
    "SMTPTransport",
    "SandboxTransport",
    "ScriptedTransport",
    "SendGridTransport",
    "Transport",
]
