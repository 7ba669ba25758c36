"""A minimal SMTP client dialogue on an asyncio protocol: replies, commands, STARTTLS.

The doctor needs only greeting, EHLO, STARTTLS, AUTH and QUIT, and needs every step
cancellable at the deadline, which a blocking ``smtplib`` in a thread is not.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass

_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
#: Longest reply line accepted (RFC 5321 allows 512 octets; be lenient).
_MAX_LINE = 4096


class WireClosed(ConnectionError):
    """The server closed the connection."""


class WireProtocolError(ValueError):
    """The server sent something that is not an SMTP reply."""


@dataclass(frozen=True)
class Reply:
    """One SMTP reply: ``code`` and its text lines."""

    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The reply's text, lines joined by spaces."""
        return " ".join(line.strip() for line in self.lines).strip()

    @property
    def enhanced(self) -> str | None:
        """The enhanced status code (e.g. ``"5.7.8"``), if the text has one."""
        match = _ENHANCED.search(self.text)
        return match.group(1) if match else None

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


class Wire(asyncio.Protocol):
    """Reads CRLF lines into SMTP replies; writes command lines."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None

    # -- protocol callbacks ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self._closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- dialogue --------------------------------------------------------------------

    async def _line(self) -> str:
        while b"\n" not in self._buffer:
            if self._closed:
                raise WireClosed("the server closed the connection")
            if len(self._buffer) > _MAX_LINE:
                raise WireProtocolError("a reply line is too long")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line.decode("utf-8", "replace").rstrip("\r")

    async def reply(self) -> Reply:
        """The next (possibly multi-line) reply."""
        lines: list[str] = []
        while True:
            line = await self._line()
            if len(line) < 3 or not line[:3].isdigit():
                raise WireProtocolError(f"not an SMTP reply: {line[:60]!r}")
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return Reply(int(line[:3]), tuple(lines))

    def send(self, line: str) -> None:
        """Write one command line (CRLF added)."""
        if self.transport is None or self.transport.is_closing():
            raise WireClosed("the connection is closed")
        self.transport.write(line.encode("utf-8") + b"\r\n")

    async def command(self, line: str) -> Reply:
        """Send ``line`` and read the reply."""
        self.send(line)
        return await self.reply()

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Upgrade the connection to TLS (after STARTTLS, or at once for implicit TLS)."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._buffer.clear()
        upgraded = await loop.start_tls(
            self.transport, self, context, server_hostname=server_hostname
        )
        assert isinstance(upgraded, asyncio.Transport)
        self.transport = upgraded

    def tls_object(self) -> ssl.SSLObject | None:
        """The TLS session, once there is one."""
        if self.transport is None:
            return None
        found = self.transport.get_extra_info("ssl_object")
        return found if isinstance(found, ssl.SSLObject) else None

    def close(self) -> None:
        """Close the connection without ceremony."""
        if self.transport is not None:
            self.transport.abort()


def ehlo_extensions(reply: Reply) -> dict[str, str]:
    """EHLO reply -> ``{"STARTTLS": "", "AUTH": "PLAIN LOGIN", ...}`` (first line is the
    server's name, not an extension)."""
    found: dict[str, str] = {}
    for line in reply.lines[1:]:
        keyword, _, params = line.strip().partition(" ")
        if keyword:
            found[keyword.upper()] = params.strip()
    return found


__all__ = ["Reply", "Wire", "WireClosed", "WireProtocolError", "ehlo_extensions"]
