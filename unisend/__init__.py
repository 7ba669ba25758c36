"""unisend: send email through one API, over SMTP or the HTTP APIs of Mailtrap,
SendGrid, Postmark, Mailjet and Brevo, with retry, failover and round robin.

>>> from unisend import Mailer, Message
>>> with Mailer.from_url("memory://") as mailer:
...     result = mailer.send(Message(sender="a@example.com", to="b@example.com",
...                                  subject="Hi", text="Hello"))

Names are loaded on first use (PEP 562), so ``import unisend`` pulls in no provider
module, framework or CLI library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import (
    AllRoutesFailed,
    AuthenticationError,
    ConfigurationError,
    InvalidMessage,
    MessageRejected,
    ProviderError,
    RateLimited,
    SendError,
    TransientError,
    UnisendError,
)
from ._lazy import lazy_attributes
from ._version import __version__

if TYPE_CHECKING:
    from ._dkim import DKIM
    from ._mailer import AsyncMailer, Mailer
    from ._message import Address, Attachment, Message
    from ._result import Attempt, SendResult
    from ._retry import RetryPolicy
    from ._routing import Failover, RoundRobin
    from ._url import from_url
    from .doctor import Check, Diagnosis, adiagnose, diagnose
    from .spool import Spool, SpoolEntry, SpoolReport

_LAZY = {
    "DKIM": "unisend._dkim",
    "Address": "unisend._message",
    "Attachment": "unisend._message",
    "Message": "unisend._message",
    "Mailer": "unisend._mailer",
    "AsyncMailer": "unisend._mailer",
    "Attempt": "unisend._result",
    "SendResult": "unisend._result",
    "RetryPolicy": "unisend._retry",
    "Failover": "unisend._routing",
    "RoundRobin": "unisend._routing",
    "from_url": "unisend._url",
    "diagnose": "unisend.doctor._run",
    "adiagnose": "unisend.doctor._run",
    "Diagnosis": "unisend.doctor._model",
    "Check": "unisend.doctor._model",
    "Spool": "unisend.spool",
    "SpoolEntry": "unisend.spool",
    "SpoolReport": "unisend.spool",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)


# Plain sorted() order (tests/test_exported_members.py), not isort's constants-first.
__all__ = [  # noqa: RUF022
    "Address",
    "AllRoutesFailed",
    "AsyncMailer",
    "Attachment",
    "Attempt",
    "AuthenticationError",
    "Check",
    "ConfigurationError",
    "DKIM",
    "Diagnosis",
    "Failover",
    "InvalidMessage",
    "Mailer",
    "Message",
    "MessageRejected",
    "ProviderError",
    "RateLimited",
    "RetryPolicy",
    "RoundRobin",
    "SendError",
    "SendResult",
    "Spool",
    "SpoolEntry",
    "SpoolReport",
    "TransientError",
    "UnisendError",
    "__version__",
    "adiagnose",
    "diagnose",
    "from_url",
]
