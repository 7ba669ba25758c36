"""``ConsoleTransport``: prints each message instead of sending it (development aid)."""

from __future__ import annotations

import json
import sys
import threading
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import TYPE_CHECKING, TextIO

from .._result import SendResult
from .base import Transport, require_sender

if TYPE_CHECKING:
    from .._message import Message
    from .._url import UrlSpec

SEPARATOR = "=" * 72
_RULE = "-" * 72
# Headers that describe the MIME structure; the body summary below says it better.
_STRUCTURAL = frozenset({"mime-version", "content-type", "content-transfer-encoding"})


def _body_lines(parsed: EmailMessage) -> list[str]:
    """Text parts in full, every other part as one summary line (never base64)."""
    lines: list[str] = []
    for part in parsed.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        content_type = part.get_content_type()
        if part.get_content_maintype() == "text" and disposition is None and filename is None:
            lines.append(f"[{content_type}]")
            lines.append(str(part.get_content()).replace("\r\n", "\n").rstrip("\n"))
            lines.append("")
            continue
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        kind = "inline" if disposition == "inline" else "attachment"
        cid = part.get("Content-ID")
        detail = f"{content_type}, {size} bytes" + (f", cid {cid}" if cid else "")
        lines.append(f"[{kind}] {filename or '(unnamed)'} ({detail})")
    return lines


def format_message(message: Message, raw: bytes) -> str:
    """The human-readable form ConsoleTransport prints for ``message`` rendered as ``raw``."""
    parsed = BytesParser(policy=email_policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    lines = [SEPARATOR]
    lines += [f"{k}: {v}" for k, v in parsed.items() if k.lower() not in _STRUCTURAL]
    if message.bcc:
        lines.append(f"Bcc (envelope only): {', '.join(str(a) for a in message.bcc)}")
    if message.template_id is not None:
        lines.append(f"Template: {message.template_id}")
        if message.template_data is not None:
            lines.append(f"Template data: {json.dumps(message.template_data, default=str)}")
    lines.append(_RULE)
    lines += _body_lines(parsed)
    lines.append(SEPARATOR)
    return "\n".join(lines) + "\n"


class ConsoleTransport(Transport):
    """Prints every message to ``stream`` (standard output by default) and accepts it.

    Headers are shown decoded, text and html bodies in full, attachments as one line each
    (name, type, size). ``provider_options`` and ``metadata`` are not printed.
    """

    default_name = "console"

    def __init__(self, stream: TextIO | None = None, *, name: str | None = None) -> None:
        super().__init__(name=name)
        # None means "sys.stdout at the time of the send", so redirection keeps working.
        self._stream = stream
        self._lock = threading.Lock()

    @property
    def stream(self) -> TextIO:
        """Where messages are printed."""
        return self._stream if self._stream is not None else sys.stdout

    def send(self, message: Message) -> SendResult:
        """Print ``message``; return its ``Message-ID``."""
        from .._mime import render

        require_sender(message)
        printable = message
        if message.text is None and message.html is None:
            # A template-only message has no body to render; show the template instead.
            printable = message.model_copy(update={"text": ""})
        rendered = render(printable, smtputf8=message.needs_smtputf8)
        text = format_message(message, rendered.data)
        with self._lock:
            stream = self.stream
            stream.write(text)
            stream.flush()
        return SendResult(message_id=rendered.message_id, transport=self.name)

    def _describe(self) -> str:
        return "stream=stdout" if self._stream is None else f"stream={type(self._stream).__name__}"


def from_spec(spec: UrlSpec) -> ConsoleTransport:
    """``console://`` (``?name=`` sets the route name)."""
    from .._errors import ConfigurationError

    if spec.username or spec.password or spec.host or spec.port is not None or spec.path:
        raise ConfigurationError(f"{spec.display}: console:// takes no host, path or credentials")
    if "stream" in spec.query:
        raise ConfigurationError(
            f"{spec.display}: console:// always prints to stdout; pass "
            "ConsoleTransport(stream=...) in code to print elsewhere"
        )
    return ConsoleTransport(**spec.options(skip=("stream",)))


__all__ = ["SEPARATOR", "ConsoleTransport", "format_message"]
