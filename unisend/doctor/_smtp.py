"""The SMTP route checks: ``connect``, ``greeting``, ``tls``, ``certificate``, ``auth``.

One connection per route: greeting, EHLO, STARTTLS (or implicit TLS first), EHLO again,
at most one AUTH, then QUIT. No MAIL command is ever sent.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time

from .._tls import client_context
from ._auth import read_auth_reply
from ._net import ConnectFailure, Deadline, connect, host_port
from ._results import Results
from ._routes import Route
from ._smtp_wire import Reply, Wire, WireClosed, WireProtocolError, ehlo_extensions
from ._tls_checks import certificate_failure, handshake_failure, handshake_success

#: The checks of an SMTP route after ``dns``, in order.
SMTP_IDS = ("connect", "greeting", "tls", "certificate", "auth")
#: Share of the time left that the greeting may take before the port is probed for TLS.
_GREETING_SHARE = 0.5
#: Longest wait for the reply to QUIT.
_QUIT_WAIT = 1.0
_TIMEOUTS = (TimeoutError, asyncio.TimeoutError)


def connect_failure(out: Results, failure: ConnectFailure, host: str, port: int) -> None:
    """Record the ``connect`` fail, telling a refused port from a filtered one."""
    where = host_port(failure.address or host, port)
    if failure.kind == "refused":
        out.add(
            "connect",
            "fail",
            f"connection to {where} refused: nothing listens on port {port}",
            f"check the host and port: is {host} the server, and port {port} its submission "
            "port? (587 with smtp://, 465 with smtps://, 2525 at some providers)",
            address=failure.address,
            error="refused",
        )
    elif failure.kind == "timeout":
        blocked = (
            "port 25 is blocked for outgoing mail on most clouds (AWS, GCP, Azure, "
            "DigitalOcean): use the provider's port 587, 465 or 2525"
            if port == 25
            else f"a firewall drops outgoing TCP to port {port}: open it, or try the "
            "provider's other ports (587, 465, 2525)"
        )
        out.add(
            "connect",
            "fail",
            f"connection to {where} timed out: packets are dropped on the way",
            blocked,
            address=failure.address,
            error="timeout",
        )
    else:
        out.add(
            "connect",
            "fail",
            f"cannot connect to {where}: {failure.text}",
            "check this machine's network and routing to the server",
            address=failure.address,
            error=failure.text,
        )


async def check_smtp(
    route: Route, addresses: list[str], deadline: Deadline, login: bool, out: Results
) -> None:
    """Run the SMTP checks of ``route`` against the first address that answers."""
    started = time.monotonic()
    outcome = await connect(addresses, route.port, Wire, deadline)
    if isinstance(outcome, ConnectFailure):
        connect_failure(out, outcome, route.host, route.port)
        out.skip(SMTP_IDS, "no connection")
        return
    elapsed = (time.monotonic() - started) * 1000
    where = host_port(outcome.address, route.port)
    out.add("connect", "ok", f"connected to {where} in {elapsed:.0f} ms", address=outcome.address)
    wire = outcome.protocol
    assert isinstance(wire, Wire)
    try:
        await _dialogue(route, wire, outcome.address, deadline, login, out)
    except _TIMEOUTS:
        _broken(out, f"no answer within the time budget ({deadline.seconds:g}s)", "timeout")
    except (WireClosed, WireProtocolError, OSError) as exc:
        _broken(out, f"the server broke off the dialogue ({exc})", "closed")
    finally:
        wire.close()
    out.skip(SMTP_IDS, "an earlier check failed")


def _broken(out: Results, what: str, kind: str) -> None:
    """The dialogue stopped half-way: the step it was at fails, the rest are skipped."""
    pending = next((id for id in SMTP_IDS if id not in out.checks), None)
    if pending is None:  # only QUIT was left
        return
    fix = (
        "the server is slow or stalled: try again with a longer --timeout, or ask the provider"
        if kind == "timeout"
        else "the server dropped the connection: try again; if it persists, the server may "
        "limit connections or refuse this IP (see the blocklist check)"
    )
    out.add(pending, "fail", what, fix)
    out.skip(SMTP_IDS, f"the dialogue stopped at {pending}")


async def _dialogue(
    route: Route, wire: Wire, address: str, deadline: Deadline, login: bool, out: Results
) -> None:
    context = client_context(route.min_tls, route.ca_file)
    handshake = (route, wire, address, context, deadline, out)
    if route.security == "ssl" and not await _handshake(*handshake):
        return
    if not await _greeting(route, wire, address, deadline, out):
        return
    extensions = await _ehlo(wire, deadline, out)
    if extensions is None:
        return
    if route.security == "starttls":
        if "STARTTLS" not in extensions:
            out.add(
                "tls",
                "fail",
                "the server does not offer STARTTLS",
                f"port {route.port} offers no STARTTLS: if it is an implicit-TLS port use "
                f"smtps://{route.host}:{route.port}; plain SMTP (?security=none) is only for a "
                "local relay",
                extensions=sorted(extensions),
            )
            out.add("certificate", "skip", "not checked: no TLS session")
            return
        reply = await deadline.run(wire.command("STARTTLS"))
        if reply.code != 220:
            out.add(
                "tls",
                "fail",
                f"STARTTLS refused: {reply}",
                "the server offers STARTTLS but refuses it: try again later or ask the provider",
            )
            out.add("certificate", "skip", "not checked: no TLS session")
            return
        if not await _handshake(*handshake):
            return
        extensions = await _ehlo(wire, deadline, out)
        if extensions is None:
            return
    elif route.security == "none":
        if "STARTTLS" in extensions:
            out.add(
                "tls",
                "warn",
                "the server offers STARTTLS, but the URL turns TLS off (security=none)",
                "drop ?security=none: STARTTLS is the default and encrypts the mail",
            )
        else:
            out.add("tls", "skip", "plain connection (security=none)")
        out.add("certificate", "skip", "not checked: no TLS (security=none)")
    await _auth(route, wire, extensions, deadline, login, out)
    await _quit(wire, deadline)


async def _handshake(
    route: Route,
    wire: Wire,
    address: str,
    context: ssl.SSLContext,
    deadline: Deadline,
    out: Results,
) -> bool:
    implicit = route.security == "ssl"
    try:
        await deadline.run(wire.start_tls(context, route.host))
    except ssl.SSLCertVerificationError as exc:
        certificate_failure(out, exc, route.host, route.ca_file)
    except (*_TIMEOUTS, ssl.SSLError, ConnectionError) as exc:
        # A server without TLS 1.3 often just hangs up on a 1.3-only hello: ask it for 1.2.
        only_tls12 = (
            route.min_tls == "1.3"
            and not isinstance(exc, _TIMEOUTS)
            and await _completes_tls12(address, route, deadline)
        )
        handshake_failure(
            out,
            exc,
            host=route.host,
            port=route.port,
            implicit=implicit,
            min_tls=route.min_tls,
            only_tls12=only_tls12,
        )
    else:
        tls = wire.tls_object()
        if tls is not None:
            handshake_success(out, tls, route.host)
            return True
        out.add("tls", "fail", "no TLS session after the handshake", "try again")
    out.skip(("greeting",) if implicit else (), "no TLS session")
    out.skip(("auth",), "no TLS session (credentials are never sent in clear)")
    return False


async def _greeting(
    route: Route, wire: Wire, address: str, deadline: Deadline, out: Results
) -> bool:
    started = time.monotonic()
    implicit = route.security == "ssl"
    try:
        share = 1.0 if implicit else _GREETING_SHARE
        reply = await deadline.run(wire.reply(), share)
    except _TIMEOUTS:
        waited = time.monotonic() - started
        if not implicit and (route.port == 465 or await _speaks_tls(address, route, deadline)):
            out.add(
                "greeting",
                "fail",
                f"no greeting within {waited:.1f}s: port {route.port} speaks implicit TLS",
                f"port {route.port} expects implicit TLS: use smtps://{route.host}:{route.port}",
            )
        else:
            out.add(
                "greeting",
                "fail",
                f"the server accepted the connection but sent no greeting within {waited:.1f}s",
                "check the host and port: this may not be an SMTP server, or it is overloaded "
                "(submission is usually 587 with smtp:// or 465 with smtps://)",
            )
        out.skip(("tls", "certificate", "auth"), "no SMTP greeting")
        return False
    except WireClosed:
        out.add(
            "greeting",
            "fail",
            "the server closed the connection without a greeting",
            "the server turns this client away (too many connections, or this IP is "
            "blocked): try later, and see the blocklist check",
        )
        out.skip(("tls", "certificate", "auth"), "no SMTP greeting")
        return False
    except WireProtocolError as exc:
        out.add(
            "greeting",
            "fail",
            f"the server does not speak SMTP: {exc}",
            f"check the port: {host_port(route.host, route.port)} is not an SMTP server",
        )
        out.skip(("tls", "certificate", "auth"), "no SMTP greeting")
        return False
    if reply.code != 220:
        busy = 400 <= reply.code < 500
        out.add(
            "greeting",
            "fail",
            f"the server refused the session: {reply}",
            "the server is busy or limits connections: try again later"
            if busy
            else "the server refuses connections from this address: see the blocklist check, "
            "or ask the provider",
            banner=str(reply),
        )
        out.skip(("tls", "certificate", "auth"), "the server refused the session")
        return False
    elapsed = (time.monotonic() - started) * 1000
    out.add("greeting", "ok", f"220 in {elapsed:.0f} ms: {reply.text[:80]}", banner=reply.text)
    return True


def _ehlo_command(wire: Wire) -> str:
    """EHLO with this end's address literal: no DNS lookup of our own name."""
    sockname = wire.transport.get_extra_info("sockname") if wire.transport else None
    local = sockname[0] if isinstance(sockname, tuple) else "127.0.0.1"
    return f"EHLO [IPv6:{local}]" if ":" in local else f"EHLO [{local}]"


async def _ehlo(wire: Wire, deadline: Deadline, out: Results) -> dict[str, str] | None:
    reply = await deadline.run(wire.command(_ehlo_command(wire)))
    if reply.code != 250:
        out.checks.pop("greeting", None)
        out.add(
            "greeting",
            "fail",
            f"the server refused EHLO: {reply}",
            "the server does not accept this client: ask the provider",
        )
        out.skip(("tls", "certificate", "auth"), "EHLO was refused")
        return None
    return ehlo_extensions(reply)


async def _auth(
    route: Route,
    wire: Wire,
    extensions: dict[str, str],
    deadline: Deadline,
    login: bool,
    out: Results,
) -> None:
    offered = extensions.get("AUTH", "").upper().split()
    if not route.username or not route.password:
        offered_text = " ".join(offered) or "none"
        out.add(
            "auth",
            "skip",
            f"no credentials in the URL (the server offers AUTH: {offered_text})",
            mechanisms=offered,
        )
        return
    if not offered:
        out.add(
            "auth",
            "fail",
            "the server offers no AUTH on this connection",
            "remove the credentials if this relay needs none; otherwise use the provider's "
            "submission port (587 with STARTTLS, or 465 with smtps://)",
            mechanisms=[],
        )
        return
    mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
    if mechanism is None:
        out.add(
            "auth",
            "fail",
            f"the server offers only {' '.join(offered)}; unisend logs in with PLAIN or LOGIN",
            "this server wants another login method (e.g. XOAUTH2): use an account with "
            "password (app password) access, or an HTTP provider",
            mechanisms=offered,
        )
        return
    if not login:
        out.add(
            "auth",
            "ok",
            f"the server offers {' '.join(offered)}; login not tried (login=False)",
            mechanisms=offered,
        )
        return
    reply = await _attempt(wire, mechanism, route.username, route.password, deadline)
    outcome = read_auth_reply(reply, route.username, mechanism)
    out.add(
        "auth",
        outcome.status,
        outcome.summary,
        outcome.fix,
        mechanisms=offered,
        mechanism=mechanism,
        reply=str(reply),
    )


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


async def _attempt(
    wire: Wire, mechanism: str, user: str, password: str, deadline: Deadline
) -> Reply:
    """One AUTH exchange; the credentials go out UTF-8 encoded, never logged."""
    if mechanism == "PLAIN":
        response = _b64("\0" + user + "\0" + password)
        return await deadline.run(wire.command(f"AUTH PLAIN {response}"))
    reply = await deadline.run(wire.command("AUTH LOGIN"))
    for value in (user, password):
        if reply.code != 334:
            return reply
        reply = await deadline.run(wire.command(_b64(value)))
    return reply


async def _quit(wire: Wire, deadline: Deadline) -> None:
    try:
        wire.send("QUIT")
        await asyncio.wait_for(wire.reply(), min(_QUIT_WAIT, deadline.left()))
    except (*_TIMEOUTS, WireClosed, WireProtocolError, OSError):
        pass


def _probe_context(max_tls: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """An unverified context: probes only learn what the port speaks, and send nothing."""
    probe = ssl.create_default_context()
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    if max_tls is not None:
        probe.maximum_version = max_tls
    return probe


async def _speaks_tls(address: str, route: Route, deadline: Deadline) -> bool:
    """Whether ``address:port`` answers a TLS handshake at once (on a fresh connection,
    certificate not judged): a silent "SMTP" port is then an implicit-TLS one."""
    return await _probe(address, route, deadline, _probe_context(), starttls=False)


async def _completes_tls12(address: str, route: Route, deadline: Deadline) -> bool:
    """Whether the server completes a TLS 1.2 handshake (fresh connection, same path)."""
    context = _probe_context(ssl.TLSVersion.TLSv1_2)
    starttls = route.security == "starttls"
    return await _probe(address, route, deadline, context, starttls=starttls)


async def _probe(
    address: str, route: Route, deadline: Deadline, context: ssl.SSLContext, *, starttls: bool
) -> bool:
    outcome = await connect([address], route.port, Wire, deadline)
    if isinstance(outcome, ConnectFailure):
        return False
    wire = outcome.protocol
    assert isinstance(wire, Wire)
    try:
        if starttls:
            if (await deadline.run(wire.reply())).code != 220:
                return False
            await deadline.run(wire.command(_ehlo_command(wire)))
            if (await deadline.run(wire.command("STARTTLS"))).code != 220:
                return False
        await deadline.run(wire.start_tls(context, route.host))
    except (*_TIMEOUTS, ssl.SSLError, OSError, WireClosed, WireProtocolError):
        return False
    finally:
        wire.close()
    return True


__all__ = ["SMTP_IDS", "check_smtp", "connect_failure"]
