"""``SMTPTransport``: SMTP on the stdlib's ``smtplib``, with TLS, AUTH and DKIM.

The options and the send loop live here; the parts each have a module:
:mod:`._session` (connect, EHLO, STARTTLS, AUTH, QUIT), :mod:`._sasl` (the AUTH
mechanisms), :mod:`._pool` (the connection pool), :mod:`._transaction` (MAIL, RCPT,
DATA and the body's framing) and :mod:`._replies` (replies -> errors, the table in
``docs/smtp.md``).

A reused connection that turns out dead before any of the message was sent is
discarded and the transaction retried once on a fresh connection; a failure after the
body is ambiguous and never retried here. ``asend`` runs ``send`` on the transport's own
worker threads (as many as ``pool_size``), so the event loop never waits on a socket.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import smtplib
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ..._dkim import DKIM
from ..._errors import ConfigurationError, InvalidMessage, SendError, TransientError
from ..._mime import ascii_email, render
from ..._result import SendResult
from ..._tls import check_min_tls, client_context
from ..base import Transport
from ._pool import Pool, Pooled, PoolTimeout
from ._replies import Replies
from ._sasl import CALLER_LOOP, TokenSource, check_login
from ._session import Endpoint, open_session, quit_session
from ._transaction import RetryOnFreshConnection, transaction

if TYPE_CHECKING:
    from ..._message import Address, Message

log = logging.getLogger("unisend.smtp")

SECURITY_MODES = ("starttls", "ssl", "none")


class SMTPTransport(Transport):
    """Send through an SMTP server with ``smtplib``.

    AUTH: with ``username`` and ``password`` the strongest mechanism the server offers
    (CRAM-MD5, then PLAIN, then LOGIN), or the one named by ``auth``; one attempt, UTF-8
    credentials. ``oauth_token`` (a token, or a sync or async callable returning a fresh
    one, called per connection) logs in with XOAUTH2. ``dkim=DKIM(...)`` signs every
    message.

    ``security``: ``"starttls"`` (default; a server without STARTTLS is a
    :class:`~unisend.ProviderError` before any AUTH), ``"ssl"`` (implicit TLS, usually
    port 465) or ``"none"`` (plain; credentials are refused unless
    ``allow_insecure_auth=True``). Certificates and host names are verified with the
    system trust store (or ``ca_file``), minimum TLS 1.2 (``min_tls="1.3"`` to raise
    it); ``ssl_context`` replaces that context as given.

    Connections are pooled and safe to share between threads: up to ``pool_size`` open
    at once (default 1: one connection reused by every send), each QUIT and replaced
    after ``max_messages_per_connection`` messages, or before use once idle longer than
    ``idle_timeout`` seconds. A send that finds every connection busy waits up to
    ``pool_timeout`` seconds, then raises :class:`~unisend.TransientError`.
    """

    default_name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        username: str | None = None,
        password: str | None = None,
        security: str = "starttls",
        ssl_context: ssl.SSLContext | None = None,
        min_tls: str = "1.2",
        allow_insecure_auth: bool = False,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        name: str | None = None,
        ca_file: str | None = None,
        pool_size: int = 1,
        max_messages_per_connection: int = 100,
        idle_timeout: float = 60.0,
        pool_timeout: float = 30.0,
        auth: str | None = None,
        oauth_token: TokenSource | None = None,
        dkim: DKIM | None = None,
    ) -> None:
        super().__init__(name=name)
        if not isinstance(host, str) or not host.strip():
            raise ConfigurationError(
                "SMTPTransport needs a host, e.g. SMTPTransport('smtp.example.com')"
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigurationError(f"port must be a number from 1 to 65535, not {port!r}")
        if security not in SECURITY_MODES:
            raise ConfigurationError(
                f"security={security!r} is not one of {', '.join(SECURITY_MODES)}"
            )
        check_min_tls(min_tls)
        for key, seconds in (
            ("timeout", timeout),
            ("idle_timeout", idle_timeout),
            ("pool_timeout", pool_timeout),
        ):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
                raise ConfigurationError(
                    f"{key} must be a positive number of seconds, not {seconds!r}"
                )
        for key, count in (
            ("pool_size", pool_size),
            ("max_messages_per_connection", max_messages_per_connection),
        ):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ConfigurationError(f"{key} must be a whole number >= 1, not {count!r}")
        login = check_login(username or None, password or None, auth, oauth_token)
        if login is not None and security == "none" and not allow_insecure_auth:
            raise ConfigurationError(
                "security='none' would send the SMTP credentials unencrypted; use "
                "security='starttls' or 'ssl', or opt in with allow_insecure_auth=True"
            )
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise ConfigurationError("ssl_context must be an ssl.SSLContext")
        if ssl_context is not None and ca_file is not None:
            raise ConfigurationError("give ssl_context or ca_file, not both")
        if dkim is not None and not isinstance(dkim, DKIM):
            raise ConfigurationError("dkim must be a unisend.DKIM(domain, selector, private_key)")
        self.host = host.strip()
        self.port = port
        self.security = security
        self.username = username or None
        self.auth = login.mechanism if login is not None else None
        self._login = login
        self.min_tls = min_tls
        self.allow_insecure_auth = allow_insecure_auth
        self.timeout = float(timeout)
        self.local_hostname = local_hostname
        self.dkim = dkim
        context: ssl.SSLContext | None = ssl_context
        if ssl_context is None and security != "none":
            context = client_context(min_tls, ca_file)
        self._endpoint = Endpoint(
            host=self.host,
            port=port,
            security=security,
            context=context,
            timeout=self.timeout,
            local_hostname=local_hostname,
        )
        self._replies = Replies(
            host=self.host,
            port=port,
            name=self.name,
            security=security,
            timeout=self.timeout,
            min_tls=min_tls,
            secrets=self._secrets,
        )
        self.pool_size = pool_size
        self.max_messages_per_connection = max_messages_per_connection
        self.idle_timeout = float(idle_timeout)
        self.pool_timeout = float(pool_timeout)
        self._pool = Pool(
            pool_size, max_messages_per_connection, self.idle_timeout, self._open, self._quit
        )
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    # -- public ----------------------------------------------------------------------

    def check(self, message: Message) -> None:
        """Refuse, without I/O, what SMTP cannot carry: ``send_at`` and template-only
        messages (no SMTP server renders a template)."""
        if message.send_at is not None:
            # Sending now what was meant for later is worse than refusing: say so.
            raise InvalidMessage(
                "smtp cannot schedule delivery (send_at); remove send_at or use a provider "
                "that schedules (SendGrid, Brevo)"
            )
        if message.text is None and message.html is None:
            raise InvalidMessage(
                "smtp cannot send a template-only message (template_id without text or "
                "html): no SMTP server renders templates; add text/html or use a provider"
            )

    def send(self, message: Message) -> SendResult:
        """Send one message over a pooled connection (opened on first use).

        Raises :class:`~unisend.InvalidMessage` before any I/O for a message SMTP cannot
        carry, and a classified :class:`~unisend.SendError` for a failure on the wire.
        """
        self.check(message)
        sender, recipients, smtputf8 = self._envelope(message)
        rendered = render(message, smtputf8=smtputf8)
        chunks = rendered.chunks
        if self.dkim is not None:
            chunks = self.dkim.sign_chunks(chunks)
        fresh = False
        for attempt in (1, 2):
            pooled, reused = self._checkout(fresh)
            try:
                rejected = transaction(pooled, self._replies, sender, recipients, chunks, smtputf8)
            except RetryOnFreshConnection as retry:
                self._pool.checkin(pooled)
                if reused and attempt == 1:
                    log.debug("%s: the server dropped an idle connection; reconnecting", self)
                    fresh = True
                    continue
                raise retry.error from retry.__cause__
            except SendError:
                self._pool.checkin(pooled)
                raise
            except BaseException:
                pooled.drop()
                self._pool.checkin(pooled)
                raise
            self._pool.checkin(pooled)
            log.debug(
                "%s: accepted %s for %d recipient(s), %d refused",
                self,
                rendered.message_id,
                len(recipients) - len(rejected),
                len(rejected),
            )
            return SendResult(
                message_id=rendered.message_id, transport=self.name, rejected=rejected
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def asend(self, message: Message) -> SendResult:
        """:meth:`send` on one of the transport's worker threads (``pool_size`` of them),
        so the event loop never waits on the server."""
        context = contextvars.copy_context()
        # An async oauth_token provider is awaited on this loop (see _sasl.fetch_token).
        context.run(CALLER_LOOP.set, asyncio.get_running_loop())
        with self._executor_lock:  # close() swaps the executor under the same lock
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.pool_size, thread_name_prefix=f"unisend-{self.name}"
                )
            future = self._executor.submit(context.run, self.send, message)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """QUIT every idle connection; connections in use are QUIT when their send ends.

        Safe to call more than once; the next send opens a new connection.
        """
        self._pool.close()
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def _describe(self) -> str:
        return f"{self.host}:{self.port} security={self.security}"

    # -- internals -------------------------------------------------------------------

    def _envelope(self, message: Message) -> tuple[str, list[str], bool]:
        """(MAIL FROM, RCPT TO list, whether SMTPUTF8 is needed); no I/O."""
        if message.sender is None:
            raise InvalidMessage(
                "the message has no sender; set Message(sender=...) or Mailer(default_sender=...)"
            )
        if message.text is None and message.html is None:
            raise InvalidMessage(
                "SMTP sends only text/html bodies; template_id needs an HTTP provider"
            )
        smtputf8 = message.needs_smtputf8

        def mailbox(address: Address) -> str:
            return ascii_email(address) or address.email

        recipients = list(dict.fromkeys(mailbox(a) for a in message.recipients))
        return mailbox(message.sender), recipients, smtputf8

    def _secrets(self) -> list[str]:
        login = self._login
        if login is None:
            return []
        secrets = [login.password] if login.password else []
        if isinstance(login.oauth_token, str):
            secrets.append(login.oauth_token)
        return secrets

    def _checkout(self, fresh: bool) -> tuple[Pooled, bool]:
        try:
            return self._pool.checkout(self.pool_timeout, fresh=fresh)
        except PoolTimeout:
            raise self._replies.error(
                TransientError,
                f"all {self.pool_size} pooled connection(s) stayed busy for "
                f"{self.pool_timeout:g}s (pool_timeout); nothing was sent. Raise pool_size "
                "or pool_timeout, or send fewer messages at once",
            ) from None

    def _open(self) -> smtplib.SMTP:
        log.debug("%s: connecting", self)
        return open_session(self._endpoint, self._replies, self._login)

    def _quit(self, conn: smtplib.SMTP) -> None:
        quit_session(conn, self.timeout)


__all__ = ["SECURITY_MODES", "SMTPTransport"]
