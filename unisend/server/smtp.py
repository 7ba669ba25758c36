"""SMTP ingest: an aiosmtpd server that accepts any envelope and keeps the exact bytes.

SMTPUTF8, 8BITMIME and SIZE (25 MB) are offered; AUTH (PLAIN, LOGIN) is required only
when credentials are configured (else any credentials pass); STARTTLS only with a TLS
context, and then AUTH only after STARTTLS. Envelope addresses
with CR, LF or other control characters are refused (the class of Mailpit's
CVE-2026-23829), and so are messages with more than :data:`MAX_HEADERS` header fields
or recipients beyond :data:`MAX_RECIPIENTS`. Lines over 1,000 octets are refused by
aiosmtpd itself.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import ssl
import warnings
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .store import header_fields

#: The largest message accepted (the SIZE extension's value), in bytes.
MAX_SIZE = 25 * 1024 * 1024
#: Recipients accepted per message.
MAX_RECIPIENTS = 1000
#: Header fields accepted per message.
MAX_HEADERS = 1000

log = logging.getLogger("unisend.inbox")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Ingest = Callable[[bytes, str, Sequence[str]], Awaitable[int]]


class Handler:
    """aiosmtpd hooks: check the envelope, hand the bytes to ``ingest``."""

    def __init__(self, ingest: Ingest) -> None:
        self._ingest = ingest

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Any sender, even ``<>``, without control characters."""
        if _CONTROL.search(address):
            return "553 5.1.7 control characters (CR, LF, ...) are not allowed in an address"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Any recipient, without control characters, up to :data:`MAX_RECIPIENTS`."""
        if _CONTROL.search(address):
            return "553 5.1.3 control characters (CR, LF, ...) are not allowed in an address"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return f"452 4.5.3 too many recipients (at most {MAX_RECIPIENTS} per message)"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the bytes as received (after dot-unstuffing) with the envelope."""
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content if isinstance(envelope.content, bytes) else b""
        try:
            count, _, _ = header_fields(raw)
        except Exception:
            count = 0
        if count > MAX_HEADERS:
            return f"552 5.3.4 too many header fields (at most {MAX_HEADERS})"
        try:
            new_id = await self._ingest(raw, envelope.mail_from or "", list(envelope.rcpt_tos))
        except Exception as exc:  # a locked or full disk: the client may try again later
            log.warning("could not store a message: %s", exc)
            return "451 4.3.0 could not store the message; try again later"
        return f"250 OK: stored as {new_id}"


class Credentials:
    """The one ``USER:PASS`` pair that ``--smtp-auth`` sets, compared in constant time."""

    def __init__(self, username: str, password: str) -> None:
        self._user = username.encode()
        self._password = password.encode()

    def __repr__(self) -> str:
        return "Credentials(<hidden>)"

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator hook."""
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user_ok = hmac.compare_digest(bytes(data.login), self._user)
        password_ok = hmac.compare_digest(bytes(data.password), self._password)
        return AuthResult(success=user_ok and password_ok, handled=False)


def accept_any(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    """Without ``--smtp-auth``, AUTH is optional and any credentials pass (so an app
    configured with its production login still delivers here)."""
    return AuthResult(success=True, handled=False)


class Sessions:
    """Builds one aiosmtpd protocol per connection and remembers them to close at stop."""

    def __init__(
        self,
        handler: Handler,
        *,
        tls_context: ssl.SSLContext | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self._handler = handler
        self._tls = tls_context
        self._credentials = credentials
        self._open: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def __call__(self) -> SMTP:
        """A protocol for one new connection."""
        with warnings.catch_warnings():
            # "Requiring AUTH while not requiring TLS": chosen on purpose without --tls.
            warnings.simplefilter("ignore")
            protocol = SMTP(
                self._handler,
                hostname="localhost",  # never socket.getfqdn(): no DNS lookup per connection
                ident="unisend inbox",
                data_size_limit=MAX_SIZE,
                enable_SMTPUTF8=True,
                decode_data=False,
                tls_context=self._tls,
                require_starttls=False,
                authenticator=self._credentials or accept_any,
                auth_required=self._credentials is not None,
                auth_require_tls=self._tls is not None,
                timeout=300,
            )
        self._open.add(protocol)
        return protocol

    def close_all(self) -> None:
        """Drop every open SMTP connection (at shutdown)."""
        for protocol in list(self._open):
            transport = protocol.transport
            if transport is not None:
                transport.close()


async def start(
    sock: Any, sessions: Sessions, loop: asyncio.AbstractEventLoop | None = None
) -> asyncio.Server:
    """Serve SMTP on the bound socket ``sock``."""
    loop = loop or asyncio.get_running_loop()
    return await loop.create_server(sessions, sock=sock)
