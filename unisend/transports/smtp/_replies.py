"""SMTP replies and connection failures -> unisend's error tree (the table in docs/smtp.md).

One :class:`Replies` per transport builds every error it raises, so that each message
names the server, is scrubbed of the credentials, and gives hints in the syntax the
transport was configured with (``?security=none`` for a URL, ``security='none'`` for
keywords).

The rule: a reply caused by the message (too large, bad content, "500 Line too long" at
the end of DATA) is :class:`~unisend.MessageRejected`, which never cools a route down;
one caused by the route (its account, its sender policy, its credentials) is a
:class:`~unisend.ProviderError`; a 4xx is a :class:`~unisend.TransientError`.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable

from ..._errors import (
    AuthenticationError,
    MessageRejected,
    ProviderError,
    RateLimited,
    SendError,
    TransientError,
)
from ..._redact import redact_text

#: Stages named in messages; "end of DATA" is the reply to the message itself.
END_OF_DATA = "end of DATA"

_AUTH_CODES = frozenset({530, 534, 535, 538})
_THROTTLE_CODES = frozenset({421, 450, 451, 452})
_THROTTLE_TEXT = re.compile(
    r"rate|throttl|too many|too fast|limit|slow down|try (?:again )?later", re.IGNORECASE
)
ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")
# A 5xx at the end of DATA is about the message unless it speaks of the sender or the
# account (e.g. SES "554 Message rejected: Email address is not verified"): another
# route may send that message.
_ROUTE_TEXT = re.compile(
    r"relay|sender|not (?:been )?verified|unverified|identit|account|suspend|quota"
    r"|not (?:authori[sz]ed|allowed|permitted)|authenticat",
    re.IGNORECASE,
)
# Microsoft 365 with basic authentication turned off: 550 5.7.30 at AUTH or MAIL,
# 535 5.7.139 at AUTH.
_BASIC_AUTH_OFF = frozenset({"5.7.30", "5.7.139"})
# Gmail: "534 5.7.9 Application-specific password required".
_APP_PASSWORD = "5.7.9"
# What OpenSSL says when the server's first bytes are not TLS (a greeting in plain text).
_PLAIN_TEXT_REPLY = frozenset(
    {"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST", "RECORD_LAYER_FAILURE"}
)


# Stages of opening a session: a refusal there has sent nothing of the message.
_BEFORE_MAIL = frozenset({"connect", "EHLO", "STARTTLS", "AUTH"})


class Replies:
    """Builds the transport's errors; see the module docstring."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        name: str,
        security: str,
        timeout: float,
        min_tls: str,
        secrets: Callable[[], Iterable[str]],
    ) -> None:
        self.host = host
        self.port = port
        self.name = name
        self.security = security
        self.timeout = timeout
        self.min_tls = min_tls
        self._secrets = secrets
        #: True when the transport came from a URL: hints are then written as URL options.
        self.url_syntax = False

    # -- hints ---------------------------------------------------------------------------

    def option(self, **options: object) -> str:
        """``?security=none&allow_insecure_auth=true`` or
        ``security='none', allow_insecure_auth=True``, as the transport was configured."""
        if self.url_syntax:
            pairs = [f"{key}={str(value).lower()}" for key, value in options.items()]
            return "?" + "&".join(pairs)
        return ", ".join(f"{key}={value!r}" for key, value in options.items())

    def _use_smtps(self) -> str:
        if self.url_syntax:
            return f"smtps://{self.host}:{self.port}"
        return "security='ssl'"

    def _use_smtp(self) -> str:
        if self.url_syntax:
            return f"smtp://{self.host}:{self.port}"
        return "security='starttls'"

    # -- errors --------------------------------------------------------------------------

    def error(
        self,
        cls: type[SendError],
        text: str,
        *,
        status: int | None = None,
        provider_code: str | None = None,
        ambiguous: bool = False,
        secrets: Iterable[str] = (),
    ) -> SendError:
        """``cls`` with ``text`` prefixed by the server and scrubbed of every secret."""
        scrubbed = redact_text(
            f"SMTP {self.host}:{self.port}: {text}", [*self._secrets(), *secrets]
        )
        return cls(
            scrubbed,
            transport=self.name,
            status_code=status,
            provider_code=provider_code,
            ambiguous=ambiguous,
        )

    def reply(
        self,
        code: int,
        reply: bytes | str,
        stage: str,
        *,
        ambiguous: bool = False,
        note: str = "",
        secrets: Iterable[str] = (),
    ) -> SendError:
        """Map one SMTP reply to ``stage`` (``"MAIL FROM"``, ``END_OF_DATA``, ...)."""
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        text = " ".join(text.split())
        enhanced = ENHANCED.match(text)
        provider_code = ".".join(enhanced.groups()) if enhanced else None
        what = f"{stage} refused: {code} {text}".rstrip()
        cls: type[SendError] = ProviderError
        if provider_code in _BASIC_AUTH_OFF:
            cls = AuthenticationError
            what += (
                "; the server has basic authentication (a password) turned off for this "
                "account: use XOAUTH2 (auth='xoauth2' with oauth_token=...; see docs/smtp.md)"
            )
        elif code == 534 and provider_code == _APP_PASSWORD:
            cls = AuthenticationError
            what += (
                "; the account needs an app password (Gmail: create one under Google "
                "Account > Security > App passwords) or XOAUTH2 (auth='xoauth2')"
            )
        elif code in _AUTH_CODES:
            cls = AuthenticationError
        elif 400 <= code < 500:
            throttled = code in _THROTTLE_CODES and _THROTTLE_TEXT.search(text)
            cls = RateLimited if throttled else TransientError
        elif _message_caused(code, enhanced, stage, text):
            cls = MessageRejected
        if note:
            what += f"; {note}"
        return self.error(
            cls,
            what,
            status=code,
            provider_code=provider_code,
            ambiguous=ambiguous,
            secrets=secrets,
        )

    def exception(self, exc: BaseException, stage: str) -> SendError:
        """Map an smtplib / socket / ssl exception raised during ``stage``."""
        if isinstance(exc, SendError):
            return exc
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return self.error(ProviderError, f"the server does not support {stage}")
        if isinstance(exc, smtplib.SMTPResponseException):
            before = stage in _BEFORE_MAIL
            note = "nothing was sent" if before else ""
            return self.reply(exc.smtp_code, exc.smtp_error, stage, note=note)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            if isinstance(exc.__context__, TimeoutError):
                return self._timeout(stage)
            return self.error(TransientError, f"the server closed the connection during {stage}")
        if isinstance(exc, smtplib.SMTPException):
            return self.error(ProviderError, f"{stage} failed: {exc}")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return self.error(
                ProviderError,
                f"the server's TLS certificate is not trusted ({exc.verify_message}); "
                "pass ca_file= or ssl_context= if it is signed by a private CA",
            )
        if isinstance(exc, ssl.SSLError):
            if exc.reason in _PLAIN_TEXT_REPLY and self.security == "ssl":
                return self.error(
                    ProviderError,
                    "TLS handshake failed: the server answered in plain text, so this port "
                    "speaks SMTP with STARTTLS (or no TLS), not implicit TLS; use "
                    f"{self._use_smtp()} for it (smtps:// and security='ssl' are for "
                    "implicit-TLS ports such as 465)",
                )
            return self.error(
                ProviderError,
                f"TLS handshake failed ({exc.reason or exc}); min_tls={self.min_tls}",
            )
        if isinstance(exc, ConnectionRefusedError):
            return self.error(TransientError, "connection refused")
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return self.error(TransientError, f"timed out after {self.timeout:g}s during {stage}")
        if isinstance(exc, OSError):
            return self.error(TransientError, f"network error during {stage}: {exc}")
        raise exc

    def _timeout(self, stage: str) -> SendError:
        if stage != "connect":
            return self.error(
                TransientError,
                f"timed out after {self.timeout:g}s waiting for the reply to {stage}",
            )
        # The connection was accepted but the server never greeted. An implicit-TLS port
        # (465) does exactly that to a plain-text client; a real SMTP server greets at once.
        # Not a TransientError: retrying would wait the full timeout again for nothing.
        hint = ""
        if self.security != "ssl":
            hint = (
                f"; if port {self.port} expects implicit TLS (as 465 does), use {self._use_smtps()}"
            )
        return self.error(
            ProviderError,
            f"timed out after {self.timeout:g}s waiting for the server's greeting{hint}",
        )

    def all_refused(
        self, codes: list[int], texts: list[str], rejected: dict[str, str]
    ) -> SendError:
        """Every RCPT TO was refused: retryable when any refusal was temporary."""
        temporary = [i for i, code in enumerate(codes) if 400 <= code < 500]
        if temporary:
            # Some refusals may clear up later (greylisting, throttling): retry.
            first = temporary[0]
            return self.reply(codes[first], texts[first], "RCPT TO")
        reason = (
            f"every recipient was refused ({len(rejected)}); first reply: {codes[0]} {texts[0]}"
        )
        enhanced = ENHANCED.match(texts[0])
        return MessageRejected(
            redact_text(f"SMTP {self.host}:{self.port}: {reason}", list(self._secrets())),
            rejected=rejected,
            transport=self.name,
            status_code=codes[0],
            provider_code=".".join(enhanced.groups()) if enhanced else None,
        )


def _message_caused(code: int, enhanced: re.Match[str] | None, stage: str, text: str) -> bool:
    """Whether a 5xx ``code`` refuses the message itself (it fails on every route)."""
    if stage not in ("MAIL FROM", "DATA", END_OF_DATA):
        return False
    too_large_or_bad = code == 552 or (
        enhanced is not None and (enhanced.group(2) == "6" or enhanced.groups()[1:] == ("3", "4"))
    )
    if too_large_or_bad:
        return True
    # After the body, the server has read the message: its 5xx is about the message
    # ("500 Line too long", "554 5.7.1 spam"), unless it speaks of the sender/account.
    return stage == END_OF_DATA and (code in (500, 501) or not _ROUTE_TEXT.search(text))


__all__ = ["END_OF_DATA", "ENHANCED", "Replies"]
