"""``ScriptedTransport``: a test double that fails (or succeeds) as a script says.

Use it to test your own failover setup without a network::

    primary = ScriptedTransport(["503", "503", "503"], name="primary")
    backup = ScriptedTransport(["ok"], name="backup")
    result = Mailer(Failover([primary, backup])).send(message)
    assert result.transport == "backup" and backup.sent == [message]

Each entry of the script is the outcome of one send, in order; when the script runs out
the last entry repeats. Entries:

=============  ===============================================================
``"ok"``       accepted (also any 2xx status, e.g. ``"202"``)
``"429"``      :class:`~unisend.RateLimited`; ``"429:1.5"`` sets ``retry_after=1.5``
``"5xx"``      :class:`~unisend.TransientError` (``"500"``, ``"503"``, ...), also ``"408"``
``"401"``      :class:`~unisend.AuthenticationError`
``"403"``      :class:`~unisend.ProviderError` (and any other 4xx not listed here)
``"400"``      :class:`~unisend.MessageRejected` (also ``"413"``, ``"422"``)
``"timeout"``  read timeout after the request was sent: an *ambiguous*
               :class:`~unisend.TransientError`, and the message **is** recorded
               in ``.sent`` (the worst case: the provider accepted it)
``"reset"``    connection reset before the request was accepted: a
               :class:`~unisend.TransientError`, not ambiguous, nothing recorded
``"refused"``  connection refused: a :class:`~unisend.TransientError`, not ambiguous
=============  ===============================================================

The statuses are classified by the one table the HTTP transports use
(:mod:`unisend.transports._status`). ``.sent`` lists every message accepted (including
ambiguous timeouts), ``.calls`` counts every send. Thread-safe; ``asend`` never blocks.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._errors import ConfigurationError, RateLimited, SendError, TransientError
from .._result import SendResult
from ._status import error_class
from .base import Transport

if TYPE_CHECKING:
    from .._message import Message

_ENTRY = re.compile(r"^(?:ok|timeout|reset|refused|[1-5]\d\d|429:\d+(?:\.\d+)?)$")


def _check(script: Sequence[str]) -> tuple[str, ...]:
    if isinstance(script, str) or not isinstance(script, Sequence):
        raise ConfigurationError(
            f'ScriptedTransport takes a list of outcomes, e.g. ["503", "ok"]; '
            f"got {type(script).__name__}"
        )
    if not script:
        raise ConfigurationError('ScriptedTransport needs at least one outcome, e.g. ["ok"]')
    entries = []
    for position, entry in enumerate(script, 1):
        text = entry.strip().lower() if isinstance(entry, str) else ""
        status = int(text[:3]) if text[:3].isdigit() else None
        if not _ENTRY.match(text) or (status is not None and status < 200):
            raise ConfigurationError(
                f"ScriptedTransport: outcome {position} ({entry!r}) is not one of "
                '"ok", "timeout", "reset", "refused", an HTTP status 200-599 '
                'or "429:<seconds>"'
            )
        entries.append(text)
    return tuple(entries)


class ScriptedTransport(Transport):
    """A transport whose every send follows the next entry of ``script`` (see module docs)."""

    default_name = "scripted"

    def __init__(self, script: Sequence[str], *, name: str | None = None) -> None:
        super().__init__(name=name)
        #: The outcomes, normalised to lower case.
        self.script = _check(script)
        #: Every message accepted, in order (ambiguous timeouts included).
        self.sent: list[Message] = []
        #: How many sends were made.
        self.calls = 0
        self._lock = threading.Lock()

    def send(self, message: Message) -> SendResult:
        """Play the next outcome: return a result or raise the scripted error."""
        with self._lock:
            entry = self.script[min(self.calls, len(self.script) - 1)]
            self.calls += 1
            number = self.calls
            if entry == "ok" or entry == "timeout" or entry[0] == "2":
                self.sent.append(message)
        if entry == "ok" or entry[0] == "2":
            return SendResult(
                message_id=f"<{self.name}-{number}@scripted.unisend.test>", transport=self.name
            )
        raise self._error(entry)

    async def asend(self, message: Message) -> SendResult:
        """Same as :meth:`send`; nothing blocks. It yields to the event loop once first,
        as real I/O would, so concurrent sends interleave."""
        await asyncio.sleep(0)
        return self.send(message)

    def reset(self) -> None:
        """Start the script again and forget what was sent."""
        with self._lock:
            self.calls = 0
            self.sent.clear()

    def _error(self, entry: str) -> SendError:
        name = self.name
        if entry == "timeout":
            return TransientError(
                "scripted read timeout after the request was sent", transport=name, ambiguous=True
            )
        if entry == "reset":
            return TransientError("scripted connection reset", transport=name)
        if entry == "refused":
            return TransientError("scripted connection refused", transport=name)
        status_text, _, after = entry.partition(":")
        status = int(status_text)
        text = f"scripted HTTP {status}"
        cls = error_class(status)
        if issubclass(cls, RateLimited):
            return cls(
                text, retry_after=float(after) if after else None, transport=name, status_code=429
            )
        return cls(text, transport=name, status_code=status)

    def _describe(self) -> str:
        shown = ", ".join(self.script[:5]) + (", ..." if len(self.script) > 5 else "")
        return f"script=[{shown}] calls={self.calls}"


__all__ = ["ScriptedTransport"]
