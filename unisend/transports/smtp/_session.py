"""Opening and ending one SMTP session: connect, EHLO, STARTTLS, AUTH, QUIT.

:func:`open_session` returns a connection ready for MAIL FROM, or raises the mapped
:class:`~unisend.SendError`. A session the server refused at the SMTP level (a refused
STARTTLS, a failed login, a missing extension) is ended with QUIT, so servers do not log
"lost connection after AUTH"; one whose socket failed is just closed.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass

from ..._errors import ProviderError, UnisendError
from ._replies import Replies
from ._sasl import Login, authenticate

log = logging.getLogger("unisend.smtp")

#: Seconds a QUIT may take before the connection is simply closed.
QUIT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect."""

    host: str
    port: int
    security: str
    context: ssl.SSLContext | None
    timeout: float
    #: The EHLO name; None: the machine's FQDN, else the local address literal.
    local_hostname: str | None


@functools.lru_cache(maxsize=1)
def _machine_fqdn() -> str | None:
    # Looked up once per process: getfqdn() may be a DNS query.
    name = socket.getfqdn()
    if "." not in name or name.lower().startswith("localhost"):
        return None
    return name


def ehlo_name(sock: socket.socket | None) -> str:
    """The machine's FQDN, or else the address literal of the local end of ``sock``
    (``[192.0.2.1]``, ``[IPv6:2001:db8::1]``) as RFC 5321 4.1.3 asks, rather than
    ``localhost``, which servers with ``reject_non_fqdn_helo_hostname`` refuse."""
    fqdn = _machine_fqdn()
    if fqdn is not None:
        return fqdn
    try:
        address = str(sock.getsockname()[0]) if sock is not None else "127.0.0.1"
    except OSError:
        address = "127.0.0.1"
    address = address.partition("%")[0]  # an IPv6 scope id is no part of the literal
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def quit_session(conn: smtplib.SMTP, timeout: float) -> None:
    """End a connection politely; a server that does not answer QUIT soon is cut off."""
    try:
        if conn.sock is not None:
            conn.sock.settimeout(min(timeout, QUIT_TIMEOUT))
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def open_session(endpoint: Endpoint, replies: Replies, login: Login | None) -> smtplib.SMTP:
    """Connect, say EHLO, upgrade to TLS and authenticate, as configured."""
    # A placeholder name: without one smtplib calls getfqdn() on every connection.
    placeholder = endpoint.local_hostname or "localhost"
    conn: smtplib.SMTP
    if endpoint.security == "ssl":
        conn = smtplib.SMTP_SSL(
            local_hostname=placeholder, timeout=endpoint.timeout, context=endpoint.context
        )
    else:
        conn = smtplib.SMTP(local_hostname=placeholder, timeout=endpoint.timeout)
    # What starttls() verifies the certificate against (smtplib sets it only in __init__).
    conn._host = endpoint.host  # type: ignore[attr-defined]
    stage = "connect"
    greeted = False  # whether the session may be ended with QUIT
    try:
        code, greeting = conn.connect(endpoint.host, endpoint.port)
        if code != 220:
            raise replies.reply(code, greeting, "connect")
        greeted = True
        if endpoint.local_hostname is None:
            conn.local_hostname = ehlo_name(conn.sock)
        stage = "EHLO"
        conn.ehlo_or_helo_if_needed()
        if endpoint.security == "starttls":
            if not conn.has_extn("starttls"):
                raise replies.error(ProviderError, _no_starttls(replies, login is not None))
            stage = "STARTTLS"
            conn.starttls(context=endpoint.context)
            stage = "EHLO"
            conn.ehlo()
        if login is not None:
            stage = "AUTH"
            mechanism = authenticate(
                conn,
                replies,
                mechanism=login.mechanism,
                username=login.username,
                password=login.password,
                oauth_token=login.oauth_token,
            )
            log.debug("%s:%s: logged in with %s", endpoint.host, endpoint.port, mechanism)
    except BaseException as exc:
        # A refusal leaves the session usable for QUIT; a socket or TLS failure does not.
        refused = isinstance(exc, (UnisendError, smtplib.SMTPResponseException))
        if greeted and refused and conn.sock is not None:
            quit_session(conn, endpoint.timeout)
        else:
            conn.close()
        if isinstance(exc, UnisendError) or not isinstance(exc, Exception):
            raise
        raise replies.exception(exc, stage) from exc
    return conn


def _no_starttls(replies: Replies, credentials: bool) -> str:
    options: dict[str, object] = {"security": "none"}
    if credentials:
        options["allow_insecure_auth"] = True
    return (
        "the server does not offer STARTTLS, and security='starttls' (the default) requires "
        "it; nothing was sent. For a local development server without TLS (aiosmtpd, "
        f"Mailpit, MailHog), use {replies.option(**options)}; for implicit TLS (port 465), "
        "use smtps:// (security='ssl')"
    )


__all__ = ["QUIT_TIMEOUT", "Endpoint", "ehlo_name", "open_session", "quit_session"]
