"""``SMTPTransport``: plain SMTP on the stdlib's ``smtplib``, with TLS and AUTH.

Connections live in a small thread-safe pool (:class:`_Pool`): at most ``pool_size``
open, each recycled with QUIT after ``max_messages_per_connection`` messages and
replaced before use once idle for ``idle_timeout`` seconds. The default
``pool_size=1`` is one connection reused by every send. A reused connection that
turns out dead before any of the message was sent is discarded and the transaction
retried once on a fresh connection; a failure after the body is ambiguous and never
retried here.

``asend`` runs ``send`` on the transport's own worker threads (as many as
``pool_size``), so the event loop never waits on a socket.

Reply codes map onto the error tree in :func:`SMTPTransport._reply_error`; the table
is in ``docs/smtp.md``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import re
import select
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from .._errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidMessage,
    MessageRejected,
    ProviderError,
    RateLimited,
    SendError,
    TransientError,
)
from .._mime import ascii_email, render
from .._redact import redact_text
from .._result import SendResult
from .._tls import check_min_tls, client_context
from .base import Transport

if TYPE_CHECKING:
    from .._message import Address, Message
    from .._url import UrlSpec

log = logging.getLogger("unisend.smtp")

SECURITY_MODES = ("starttls", "ssl", "none")
_AUTH_CODES = frozenset({530, 534, 535, 538})
_THROTTLE_CODES = frozenset({421, 450, 451, 452})
_THROTTLE_TEXT = re.compile(
    r"rate|throttl|too many|too fast|limit|slow down|try (?:again )?later", re.IGNORECASE
)
_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_DOT_AFTER_LF = re.compile(rb"\n\.")
#: Seconds a QUIT may take before the connection is simply closed.
_QUIT_TIMEOUT = 5.0


@functools.lru_cache(maxsize=1)
def _local_hostname() -> str:
    # smtplib would call getfqdn() (a DNS lookup) on every connection.
    return socket.getfqdn() or "localhost"


class _RetryOnFreshConnection(Exception):
    """The connection failed before any of the message was sent: safe to retry once."""

    def __init__(self, error: SendError) -> None:
        super().__init__(str(error))
        self.error = error


class _PoolTimeout(Exception):
    """No connection became free within ``pool_timeout``."""


class _Pooled:
    """One pooled connection and its bookkeeping."""

    __slots__ = ("broken", "generation", "last_used", "messages", "smtp")

    def __init__(self, smtp: smtplib.SMTP, generation: int, now: float) -> None:
        self.smtp = smtp
        #: The pool's generation when this connection was opened; close() moves it on.
        self.generation = generation
        self.last_used = now
        #: Transactions started (MAIL FROM sent) on this connection.
        self.messages = 0
        #: Set when the connection must not be used again (socket already closed).
        self.broken = False

    def drop(self) -> None:
        """Close the socket without QUIT and mark the connection unusable."""
        self.broken = True
        self.smtp.close()

    def looks_dropped(self) -> bool:
        """True when the server has sent something (a 421, or EOF) while the
        connection sat idle: it is no longer in a clean state."""
        sock = self.smtp.sock
        if sock is None:
            return True
        try:
            if hasattr(select, "poll"):
                poller = select.poll()
                poller.register(sock, select.POLLIN)
                return bool(poller.poll(0))
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable)
        except (OSError, ValueError):
            return True


class _Pool:
    """Connections to one server, shared by threads: at most ``size`` open at once.

    ``checkout`` hands out an idle connection (most recently used first), opens a new one
    while fewer than ``size`` exist, or waits for one to be checked in. Opening, QUIT and
    closing happen outside the lock. ``close`` QUITs the idle connections and moves the
    generation on, so that connections in use are QUIT when they come back.
    """

    def __init__(
        self,
        size: int,
        max_messages: int,
        idle_timeout: float,
        opener: Callable[[], smtplib.SMTP],
        quitter: Callable[[smtplib.SMTP], None],
    ) -> None:
        self.size = size
        self.max_messages = max_messages
        self.idle_timeout = idle_timeout
        #: Monotonic clock for idle ages; replaceable in tests.
        self.clock: Callable[[], float] = time.monotonic
        self._opener = opener
        self._quitter = quitter
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[_Pooled] = []
        self._count = 0  # connections open or being opened, idle or in use
        self._generation = 0

    @property
    def open_connections(self) -> int:
        """Connections open (or being opened) right now, idle or in use."""
        with self._cond:
            return self._count

    def checkout(self, wait: float, *, fresh: bool = False) -> tuple[_Pooled, bool]:
        """A connection and whether it was reused (False: opened just now).

        ``fresh=True`` never hands out an idle connection: it opens a new one (in place
        of an idle one when the pool is full). Raises :class:`_PoolTimeout` after
        ``wait`` seconds without a free slot, or the opener's error.
        """
        deadline = time.monotonic() + wait
        with self._cond:
            while not self._idle and self._count >= self.size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _PoolTimeout
                self._cond.wait(remaining)
            if self._idle and not (fresh and self._count < self.size):
                pooled: _Pooled | None = self._idle.pop()
            else:
                pooled = None
                self._count += 1
            generation = self._generation
        if pooled is not None:
            if not fresh and pooled.smtp.sock is not None:
                idle_for = self.clock() - pooled.last_used
                if idle_for <= self.idle_timeout and not pooled.looks_dropped():
                    return pooled, True
                log.debug("replacing a connection idle for %.1fs", idle_for)
            self._retire(pooled)  # its slot is kept for the new connection
        try:
            smtp = self._opener()
        except BaseException:
            self._release_slot()
            raise
        return _Pooled(smtp, generation, self.clock()), False

    def checkin(self, pooled: _Pooled) -> None:
        """Return a connection: kept for reuse, or closed when broken, worn out
        (``max_messages``) or opened before the last ``close()``."""
        pooled.last_used = self.clock()
        if not pooled.broken and pooled.messages < self.max_messages:
            with self._cond:
                if pooled.generation == self._generation:
                    self._idle.append(pooled)
                    self._cond.notify()
                    return
        self._retire(pooled)
        self._release_slot()

    def close(self) -> None:
        """QUIT every idle connection; those in use are QUIT when checked in."""
        with self._cond:
            self._generation += 1
            idle, self._idle = self._idle, []
        for pooled in idle:
            self._retire(pooled)
        with self._cond:
            self._count -= len(idle)
            self._cond.notify_all()

    def _retire(self, pooled: _Pooled) -> None:
        if pooled.broken or pooled.looks_dropped():
            pooled.drop()
        else:
            self._quitter(pooled.smtp)

    def _release_slot(self) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify()


class SMTPTransport(Transport):
    """Send through an SMTP server with ``smtplib``.

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
        if username and not password:
            raise ConfigurationError(f"SMTP user {username!r} is given without a password")
        if password and not username:
            raise ConfigurationError("an SMTP password is given without a username")
        if username and security == "none" and not allow_insecure_auth:
            raise ConfigurationError(
                "security='none' would send the SMTP password unencrypted; use "
                "security='starttls' or 'ssl', or opt in with allow_insecure_auth=True"
            )
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise ConfigurationError("ssl_context must be an ssl.SSLContext")
        if ssl_context is not None and ca_file is not None:
            raise ConfigurationError("give ssl_context or ca_file, not both")
        self.host = host.strip()
        self.port = port
        self.security = security
        self.username = username or None
        self._password = password or None
        self.min_tls = min_tls
        self.allow_insecure_auth = allow_insecure_auth
        self.timeout = float(timeout)
        self.local_hostname = local_hostname
        self._context: ssl.SSLContext | None = ssl_context
        if ssl_context is None and security != "none":
            self._context = client_context(min_tls, ca_file)
        self.pool_size = pool_size
        self.max_messages_per_connection = max_messages_per_connection
        self.idle_timeout = float(idle_timeout)
        self.pool_timeout = float(pool_timeout)
        self._pool = _Pool(
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
        fresh = False
        for attempt in (1, 2):
            pooled, reused = self._checkout(fresh)
            try:
                rejected = self._transaction(pooled, sender, recipients, rendered.chunks, smtputf8)
            except _RetryOnFreshConnection as retry:
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
        return [self._password] if self._password else []

    def _error(
        self,
        cls: type[SendError],
        text: str,
        *,
        status: int | None = None,
        provider_code: str | None = None,
        ambiguous: bool = False,
    ) -> SendError:
        text = redact_text(f"SMTP {self.host}:{self.port}: {text}", self._secrets())
        return cls(
            text,
            transport=self.name,
            status_code=status,
            provider_code=provider_code,
            ambiguous=ambiguous,
        )

    def _reply_error(
        self, code: int, reply: bytes | str, stage: str, *, ambiguous: bool = False
    ) -> SendError:
        """Map one SMTP reply onto the error tree (see docs/smtp.md)."""
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        text = " ".join(text.split())
        enhanced = _ENHANCED.match(text)
        provider_code = ".".join(enhanced.groups()) if enhanced else None
        what = f"{stage} refused: {code} {text}".rstrip()
        cls: type[SendError] = ProviderError
        if code in _AUTH_CODES:
            cls = AuthenticationError
        elif 400 <= code < 500:
            throttled = code in _THROTTLE_CODES and _THROTTLE_TEXT.search(text)
            cls = RateLimited if throttled else TransientError
        elif stage in ("MAIL FROM", "DATA") and (
            code == 552
            or (enhanced is not None and enhanced.group(2) == "6")
            or (enhanced is not None and enhanced.groups()[1:] == ("3", "4"))
        ):
            cls = MessageRejected  # too large / bad content: refused by any route
        return self._error(cls, what, status=code, provider_code=provider_code, ambiguous=ambiguous)

    def _map_exception(self, exc: BaseException, stage: str) -> SendError:
        """Map an smtplib / socket / ssl exception raised during ``stage``."""
        if isinstance(exc, SendError):
            return exc
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return self._error(ProviderError, f"the server does not support {stage}")
        if isinstance(exc, smtplib.SMTPResponseException):
            return self._reply_error(exc.smtp_code, exc.smtp_error, stage)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return self._error(TransientError, f"the server closed the connection during {stage}")
        if isinstance(exc, smtplib.SMTPException):
            return self._error(ProviderError, f"{stage} failed: {exc}")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return self._error(
                ProviderError,
                f"the server's TLS certificate is not trusted ({exc.verify_message}); "
                "pass ca_file= or ssl_context= if it is signed by a private CA",
            )
        if isinstance(exc, ssl.SSLError):
            return self._error(
                ProviderError,
                f"TLS handshake failed ({exc.reason or exc}); min_tls={self.min_tls}",
            )
        if isinstance(exc, ConnectionRefusedError):
            return self._error(TransientError, "connection refused")
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return self._error(TransientError, f"timed out after {self.timeout:g}s during {stage}")
        if isinstance(exc, OSError):
            return self._error(TransientError, f"network error during {stage}: {exc}")
        raise exc

    def _checkout(self, fresh: bool) -> tuple[_Pooled, bool]:
        try:
            return self._pool.checkout(self.pool_timeout, fresh=fresh)
        except _PoolTimeout:
            raise self._error(
                TransientError,
                f"all {self.pool_size} pooled connection(s) stayed busy for "
                f"{self.pool_timeout:g}s (pool_timeout); nothing was sent. Raise pool_size "
                "or pool_timeout, or send fewer messages at once",
            ) from None

    def _quit(self, conn: smtplib.SMTP) -> None:
        """End a connection politely; a server that does not answer QUIT soon is cut off."""
        try:
            if conn.sock is not None:
                conn.sock.settimeout(min(self.timeout, _QUIT_TIMEOUT))
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def _open(self) -> smtplib.SMTP:
        """Connect, say EHLO, upgrade to TLS and authenticate, as configured."""
        hostname = self.local_hostname or _local_hostname()
        log.debug("%s: connecting", self)
        stage = "connect"
        conn: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=hostname,
                    timeout=self.timeout,
                    context=self._context,
                )
            else:
                conn = smtplib.SMTP(
                    self.host, self.port, local_hostname=hostname, timeout=self.timeout
                )
            stage = "EHLO"
            conn.ehlo_or_helo_if_needed()
            if self.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise self._error(
                        ProviderError,
                        "the server does not offer STARTTLS, and security='starttls' requires "
                        "it; nothing was sent (use security='ssl' for implicit TLS)",
                    )
                stage = "STARTTLS"
                conn.starttls(context=self._context)
                stage = "EHLO"
                conn.ehlo()
            if self.username and self._password:
                stage = "AUTH"
                conn.login(self.username, self._password)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, Exception):
                raise self._map_exception(exc, stage) from exc
            raise
        return conn

    def _reset(self, pooled: _Pooled, code: int = 0) -> None:
        """RSET after a refused transaction; a connection that cannot is dropped, as is
        one the server is closing (421)."""
        if code == 421:
            pooled.drop()
            return
        try:
            code, _ = pooled.smtp.docmd("RSET")
        except (smtplib.SMTPException, OSError):
            code = 0
        if code != 250:
            pooled.drop()

    def _transaction(
        self,
        pooled: _Pooled,
        sender: str,
        recipients: list[str],
        chunks: tuple[bytes, ...],
        smtputf8: bool,
    ) -> dict[str, str]:
        """MAIL, RCPT..., DATA; returns the refused recipients (some, never all).

        ``chunks`` is the rendered message (:attr:`Rendered.chunks`), written in order.
        """
        conn = pooled.smtp
        options: list[str] = []
        if smtputf8:
            if not conn.has_extn("smtputf8"):
                raise self._error(
                    MessageRejected,
                    "an address has a non-ASCII local part, which needs SMTPUTF8, and this "
                    "server does not offer it; nothing was sent",
                )
            options.append("SMTPUTF8")
            if conn.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
        if conn.has_extn("size"):
            options.append(f"SIZE={sum(map(len, chunks))}")
        conn.command_encoding = "utf-8" if smtputf8 else "ascii"
        stage = "MAIL FROM"
        pooled.messages += 1
        try:
            code, reply = conn.docmd("MAIL", f"FROM:<{sender}>" + "".join(f" {o}" for o in options))
            if code == 421:  # the server is closing this connection, e.g. after idling
                pooled.drop()
                raise _RetryOnFreshConnection(self._reply_error(code, reply, stage))
            if code != 250:
                self._reset(pooled, code)
                raise self._reply_error(code, reply, stage)
            stage = "RCPT TO"
            rejected: dict[str, str] = {}
            codes: list[int] = []
            texts: list[str] = []
            for recipient in recipients:
                code, reply = conn.docmd("RCPT", f"TO:<{recipient}>")
                if code not in (250, 251):
                    text = " ".join(reply.decode("utf-8", "replace").split())
                    rejected[recipient] = f"{code} {text}"
                    codes.append(code)
                    texts.append(text)
            if len(rejected) == len(recipients):
                self._reset(pooled, 421 if 421 in codes else 0)
                raise self._all_refused(codes, texts, rejected)
            stage = "DATA"
            code, reply = conn.docmd("DATA")
            if code != 354:
                self._reset(pooled, code)
                raise self._reply_error(code, reply, stage)
            stage = "BODY"
            if len(chunks) == 1:
                conn.send(_LEADING_DOT.sub(b"..", chunks[0]) + b".\r\n")
            else:
                _send_chunks(conn, chunks)
            code, reply = conn.getreply()
            if code != 250:
                if code == 421:
                    pooled.drop()
                raise self._reply_error(code, reply, "DATA")  # the transaction is over
            return rejected
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            pooled.drop()
            if stage == "BODY":
                raise self._error(
                    TransientError,
                    "the connection was lost after the message was sent, before the server "
                    "confirmed it; it may have been delivered",
                    ambiguous=True,
                ) from exc
            raise _RetryOnFreshConnection(self._map_exception(exc, stage)) from exc
        finally:
            conn.command_encoding = "ascii"

    def _all_refused(
        self, codes: list[int], texts: list[str], rejected: dict[str, str]
    ) -> SendError:
        temporary = [i for i, code in enumerate(codes) if 400 <= code < 500]
        if temporary:
            # Some refusals may clear up later (greylisting, throttling): retry.
            first = temporary[0]
            return self._reply_error(codes[first], texts[first], "RCPT TO")
        reason = (
            f"every recipient was refused ({len(rejected)}); first reply: {codes[0]} {texts[0]}"
        )
        enhanced = _ENHANCED.match(texts[0])
        return MessageRejected(
            redact_text(f"SMTP {self.host}:{self.port}: {reason}", self._secrets()),
            rejected=rejected,
            transport=self.name,
            status_code=codes[0],
            provider_code=".".join(enhanced.groups()) if enhanced else None,
        )


def _send_chunks(conn: smtplib.SMTP, chunks: tuple[bytes, ...]) -> None:
    """Write a message in several chunks as DATA content, dot-stuffed, then the end
    marker: one chunk at a time, so no copy of the whole message is made.

    A dot is doubled where it starts a line; a line may start at a chunk's first byte
    (when the previous chunk ended a line), which is checked across the boundary.
    """
    at_line_start = True
    for chunk in chunks:
        if not chunk:
            continue
        if at_line_start and chunk[:1] == b".":
            conn.send(b".")
        conn.send(_DOT_AFTER_LF.sub(b"\n..", chunk))
        at_line_start = chunk[-1:] == b"\n"
    conn.send(b".\r\n" if at_line_start else b"\r\n.\r\n")


def from_spec(spec: UrlSpec) -> SMTPTransport:
    """``smtp://user:pass@host:587``, ``smtps://user:pass@host:465``,
    ``smtp://host:25?security=none``; other query parameters map onto keywords."""
    host = spec.require("a host (smtp://host:port)", spec.host)
    kwargs = spec.kwargs_for(
        SMTPTransport, skip=("host", "port", "username", "password", "ssl_context")
    )
    if spec.scheme == "smtps" and kwargs.setdefault("security", "ssl") != "ssl":
        raise ConfigurationError(f"{spec.display}: smtps:// always uses security=ssl")
    security = kwargs.get("security", "starttls")
    port = spec.port or (465 if security == "ssl" else 587)
    return SMTPTransport(
        host,
        port,
        username=spec.username or None,
        password=spec.password or None,
        **kwargs,
    )


__all__ = ["SECURITY_MODES", "SMTPTransport", "from_spec"]
