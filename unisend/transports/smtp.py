"""``SMTPTransport``: plain SMTP on the stdlib's ``smtplib``, with TLS and AUTH.

One connection is opened on the first send and reused by the following ones (a lock
keeps threads apart); ``close()`` ends it with QUIT. A reused connection that the
server dropped while idle is reopened transparently, and the transaction retried once,
only when nothing of the message had been sent yet.

Reply codes map onto the error tree in :func:`SMTPTransport._reply_error`; the table
is in ``docs/smtp.md``.
"""

from __future__ import annotations

import functools
import logging
import re
import smtplib
import socket
import ssl
import threading
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


@functools.lru_cache(maxsize=1)
def _local_hostname() -> str:
    # smtplib would call getfqdn() (a DNS lookup) on every connection.
    return socket.getfqdn() or "localhost"


class _RetryOnFreshConnection(Exception):
    """The connection failed before any of the message was sent: safe to retry once."""

    def __init__(self, error: SendError) -> None:
        super().__init__(str(error))
        self.error = error


class SMTPTransport(Transport):
    """Send through an SMTP server with ``smtplib``.

    ``security``: ``"starttls"`` (default; a server without STARTTLS is a
    :class:`~unisend.ProviderError` before any AUTH), ``"ssl"`` (implicit TLS, usually
    port 465) or ``"none"`` (plain; credentials are refused unless
    ``allow_insecure_auth=True``). Certificates and host names are verified with the
    system trust store (or ``ca_file``), minimum TLS 1.2 (``min_tls="1.3"`` to raise
    it); ``ssl_context`` replaces that context as given.
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
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError(
                f"timeout must be a positive number of seconds, not {timeout!r}"
            )
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
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    # -- public ----------------------------------------------------------------------

    def send(self, message: Message) -> SendResult:
        """Send one message over the shared connection (opened on first use).

        Raises :class:`~unisend.InvalidMessage` before any I/O for a message SMTP cannot
        carry, and a classified :class:`~unisend.SendError` for a failure on the wire.
        """
        if message.send_at is not None:
            # Sending now what was meant for later is worse than refusing: say so.
            raise InvalidMessage(
                "smtp cannot schedule delivery (send_at); remove send_at or use a provider "
                "that schedules (SendGrid, Brevo)"
            )
        sender, recipients, smtputf8 = self._envelope(message)
        rendered = render(message, smtputf8=smtputf8)
        with self._lock:
            for attempt in (1, 2):
                reused = self._conn is not None
                conn = self._conn if self._conn is not None else self._open()
                self._conn = conn
                try:
                    rejected = self._transaction(conn, sender, recipients, rendered.data, smtputf8)
                except _RetryOnFreshConnection as retry:
                    if reused and attempt == 1:
                        log.debug("%s: the server dropped the idle connection; reconnecting", self)
                        continue
                    raise retry.error from retry.__cause__
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

    def close(self) -> None:
        """End the connection with QUIT (if one is open). Safe to call more than once."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

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

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _reset(self, conn: smtplib.SMTP, code: int = 0) -> None:
        """RSET after a refused transaction; a connection that cannot is dropped, as is
        one the server is closing (421)."""
        if code == 421:
            self._discard()
            return
        try:
            code, _ = conn.docmd("RSET")
        except (smtplib.SMTPException, OSError):
            code = 0
        if code != 250:
            self._discard()

    def _transaction(
        self,
        conn: smtplib.SMTP,
        sender: str,
        recipients: list[str],
        data: bytes,
        smtputf8: bool,
    ) -> dict[str, str]:
        """MAIL, RCPT..., DATA; returns the refused recipients (some, never all)."""
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
            options.append(f"SIZE={len(data)}")
        conn.command_encoding = "utf-8" if smtputf8 else "ascii"
        stage = "MAIL FROM"
        try:
            code, reply = conn.docmd("MAIL", f"FROM:<{sender}>" + "".join(f" {o}" for o in options))
            if code == 421:  # the server is closing this connection, e.g. after idling
                self._discard()
                raise _RetryOnFreshConnection(self._reply_error(code, reply, stage))
            if code != 250:
                self._reset(conn, code)
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
                self._reset(conn, 421 if 421 in codes else 0)
                raise self._all_refused(codes, texts, rejected)
            stage = "DATA"
            code, reply = conn.docmd("DATA")
            if code != 354:
                self._reset(conn, code)
                raise self._reply_error(code, reply, stage)
            stage = "BODY"
            conn.send(_LEADING_DOT.sub(b"..", data) + b".\r\n")
            code, reply = conn.getreply()
            if code != 250:
                if code == 421:
                    self._discard()
                raise self._reply_error(code, reply, "DATA")  # the transaction is over
            return rejected
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._discard()
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
