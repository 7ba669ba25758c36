"""SMTP AUTH (RFC 4954): the SASL exchanges PLAIN, LOGIN, CRAM-MD5 and XOAUTH2.

Written over ``smtplib.SMTP.docmd`` rather than ``smtplib.login``, for three reasons
that real servers showed: ``login`` moves on to the next mechanism after a 535 (one
wrong password became three failed logins, tripling lockout and fail2ban counts), it
encodes the credentials as ASCII (RFC 4616 says UTF-8; the ``UnicodeEncodeError`` it
raised carried the password), and it has no XOAUTH2.

Here the mechanism is chosen once (the caller's, or the strongest offered: CRAM-MD5,
then PLAIN, then LOGIN), and any refusal ends the attempt.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import hmac
import inspect
import json
import smtplib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..._errors import AuthenticationError, ConfigurationError, ProviderError, SendError
from ._replies import Replies

#: The values ``SMTPTransport(auth=...)`` takes (``None``: choose automatically).
MECHANISMS = ("plain", "login", "cram-md5", "xoauth2")
#: Automatic choice among what the server offers, strongest first.
_PREFERENCE = ("CRAM-MD5", "PLAIN", "LOGIN")

#: An OAuth 2.0 access token, or a callable returning a fresh one (sync or async).
TokenSource = str | Callable[[], str | Awaitable[str]]

#: The event loop of the ``asend`` that is running this send on a worker thread, so an
#: async token provider can run there.
CALLER_LOOP: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "unisend_smtp_caller_loop", default=None
)


@dataclass(frozen=True)
class Login:
    """What AUTH needs; the secrets are kept out of ``repr``."""

    username: str
    mechanism: str | None
    password: str | None = field(default=None, repr=False)
    oauth_token: TokenSource | None = field(default=None, repr=False)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_login(
    username: str | None,
    password: str | None,
    auth: str | None,
    oauth_token: TokenSource | None,
) -> Login | None:
    """Check the credential options together; None when no AUTH is configured. Messages
    never show a password or token."""
    if auth is not None:
        if not isinstance(auth, str) or auth.lower() not in MECHANISMS:
            raise ConfigurationError(
                f"auth={auth!r} is not one of {', '.join(MECHANISMS)} "
                "(or None: the strongest the server offers)"
            )
        auth = auth.lower()
    if oauth_token is not None:
        if not (isinstance(oauth_token, str) or callable(oauth_token)):
            raise ConfigurationError(
                "oauth_token must be the access token (str) or a callable returning one"
            )
        if auth not in (None, "xoauth2"):
            raise ConfigurationError(f"oauth_token is used with auth='xoauth2', not {auth!r}")
        if password is not None:
            raise ConfigurationError("give password or oauth_token, not both")
        auth = "xoauth2"
    elif auth == "xoauth2":
        if password is None:
            raise ConfigurationError(
                "auth='xoauth2' needs oauth_token= (the access token or a callable returning "
                "a fresh one); in a URL the token is the password: "
                "smtp://USER:TOKEN@host:587?auth=xoauth2"
            )
        oauth_token, password = password, None  # in a URL the token is the password
    if username is None:
        if password is not None or oauth_token is not None:
            raise ConfigurationError("an SMTP password or token is given without a username")
        if auth is not None:
            raise ConfigurationError(f"auth={auth!r} needs a username and password")
        return None
    if password is None and oauth_token is None:
        raise ConfigurationError(f"SMTP user {username!r} is given without a password")
    for what, value in (("user name", username), ("password", password)):
        if value is not None and not _is_utf8(value):
            # A lone surrogate (an undecodable byte from the command line or environment).
            # Raised outside the except clause: no exception carrying it is chained.
            raise ConfigurationError(
                f"the SMTP {what} is not valid text: it holds a lone surrogate (a byte "
                "that was not UTF-8 where it came from); pass it as a proper str"
            )
    return Login(username, auth, password=password, oauth_token=oauth_token)


def offered(conn: smtplib.SMTP) -> list[str]:
    """The mechanisms the server's EHLO advertised, upper-case."""
    return conn.esmtp_features.get("auth", "").upper().split()


class _NoMechanism(Exception):
    """No mechanism fits; ``args[0]`` says why."""


def choose(mechanism: str | None, available: list[str], has_token: bool) -> str:
    """The one mechanism to use: ``mechanism`` when given, else the strongest offered.

    Raises :class:`_NoMechanism` (a :class:`~unisend.ProviderError` for the caller,
    nothing sent) when the server does not offer it, or nothing that fits.
    """
    if not available:
        raise _NoMechanism(
            "the server does not offer AUTH (drop username/password if it needs no login)"
        )
    offers = " ".join(available)
    if mechanism is not None:
        wanted = mechanism.upper()
        if wanted not in available:
            raise _NoMechanism(
                f"auth={mechanism!r} is not offered by the server (it offers {offers})"
            )
        return wanted
    if has_token:
        if "XOAUTH2" not in available:
            raise _NoMechanism(f"the server does not offer XOAUTH2 (it offers {offers})")
        return "XOAUTH2"
    for candidate in _PREFERENCE:
        if candidate in available:
            return candidate
    if "XOAUTH2" in available:
        raise _NoMechanism(
            f"the server offers {offers}: it wants an OAuth access token "
            "(oauth_token=...), not a password"
        )
    raise _NoMechanism(
        f"the server offers {offers}, none of which unisend speaks "
        "(CRAM-MD5, PLAIN, LOGIN, XOAUTH2)"
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def authenticate(
    conn: smtplib.SMTP,
    replies: Replies,
    *,
    mechanism: str | None,
    username: str,
    password: str | None,
    oauth_token: TokenSource | None,
) -> str:
    """Log in once with one mechanism; returns the mechanism used.

    Any refusal raises the mapped :class:`~unisend.SendError` (535 ->
    :class:`~unisend.AuthenticationError`) without trying another mechanism.
    """
    try:
        chosen = choose(mechanism, offered(conn), oauth_token is not None)
    except _NoMechanism as exc:
        raise replies.error(ProviderError, f"cannot log in: {exc}; nothing was sent") from None
    user = username.encode("utf-8")
    if chosen == "XOAUTH2":
        assert oauth_token is not None
        _xoauth2(conn, replies, user, fetch_token(oauth_token, replies))
        return chosen
    assert password is not None
    secret = password.encode("utf-8")
    stage = f"AUTH {chosen}"
    if chosen == "PLAIN":
        code, reply = conn.docmd("AUTH", "PLAIN " + _b64(b"\0" + user + b"\0" + secret))
    elif chosen == "LOGIN":
        code, reply = conn.docmd("AUTH", "LOGIN")
        if code == 334:
            code, reply = conn.docmd(_b64(user))
        if code == 334:
            code, reply = conn.docmd(_b64(secret))
    else:  # CRAM-MD5 (RFC 2195)
        code, reply = conn.docmd("AUTH", "CRAM-MD5")
        if code == 334:
            try:
                challenge = base64.b64decode(reply, validate=True)
            except binascii.Error:
                conn.docmd("*")  # cancel the exchange (RFC 4954 4)
                raise replies.error(
                    ProviderError, "AUTH CRAM-MD5: the server's challenge is not base64"
                ) from None
            digest = hmac.new(secret, challenge, "md5").hexdigest().encode("ascii")
            code, reply = conn.docmd(_b64(user + b" " + digest))
    if code != 235:
        raise replies.reply(code, reply, stage)
    return chosen


def fetch_token(source: TokenSource, replies: Replies) -> str:
    """The access token: ``source`` itself, or what calling it returns (awaited on the
    caller's event loop when it is a coroutine)."""
    if isinstance(source, str):
        token: object = source
    else:
        try:
            token = source()
            if inspect.isawaitable(token):
                token = _await(token)
        except SendError:
            raise
        except Exception as exc:
            raise replies.error(
                AuthenticationError,
                f"the oauth_token provider raised {type(exc).__name__}; nothing was sent",
            ) from exc
    if not isinstance(token, str) or not token:
        raise ConfigurationError(
            "the oauth_token provider must return the access token as a non-empty str, "
            f"not {type(token).__name__}"
        )
    if not token.isascii() or any(ch.isspace() or ch == "\x01" for ch in token):
        raise ConfigurationError(
            "the OAuth access token must be printable ASCII without spaces (the token "
            "itself, not 'Bearer ...' or a JSON response)"
        )
    return token


def _await(awaitable: Awaitable[object]) -> object:
    loop = CALLER_LOOP.get()
    if loop is not None and loop.is_running():
        # This thread is asend's worker; the loop is free while it waits for us.
        return asyncio.run_coroutine_threadsafe(_wrap(awaitable), loop).result()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_wrap(awaitable))
    raise ConfigurationError(
        "an async oauth_token provider cannot be awaited from send() inside a running "
        "event loop; use asend() (or AsyncMailer), or a sync provider"
    )


async def _wrap(awaitable: Awaitable[object]) -> object:
    return await awaitable


def _xoauth2(conn: smtplib.SMTP, replies: Replies, user: bytes, token: str) -> None:
    """AUTH XOAUTH2 (Google's and Microsoft's SASL mechanism for OAuth 2.0 tokens)."""
    initial = b"user=" + user + b"\x01auth=Bearer " + token.encode("ascii") + b"\x01\x01"
    code, reply = conn.docmd("AUTH", "XOAUTH2 " + _b64(initial))
    if code == 235:
        return
    note = ""
    if code == 334:
        # The server's error as base64 JSON, e.g. {"status":"401","schemes":"Bearer",
        # "scope":"https://mail.google.com/"}; an empty response asks for the final reply.
        note = "the server said: " + _decode_challenge(reply)
        code, reply = conn.docmd("")
    raise replies.reply(code, reply, "AUTH XOAUTH2", note=note, secrets=(token,))


def _decode_challenge(reply: bytes) -> str:
    try:
        text = base64.b64decode(reply, validate=True).decode("utf-8", "replace")
    except binascii.Error:
        return reply.decode("utf-8", "replace")
    try:
        detail = json.loads(text)
    except ValueError:
        return text
    if isinstance(detail, dict):
        return ", ".join(f"{key} {value}" for key, value in detail.items())
    return text


__all__ = [
    "CALLER_LOOP",
    "MECHANISMS",
    "Login",
    "TokenSource",
    "authenticate",
    "check_login",
    "choose",
    "fetch_token",
]
