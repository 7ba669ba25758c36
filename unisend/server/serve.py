"""Both servers in one asyncio event loop, and a clean stop.

Sockets are bound before anything else (so a port in use fails at once, and port 0
works: the banner shows the port the system chose). SIGINT and SIGTERM end the event
streams first, then stop uvicorn and the SMTP listener; the process exits 0 even while
browsers hold a live stream open.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import uvicorn

from .._errors import ConfigurationError
from . import app as inbox_app
from .events import Broker
from .smtp import Credentials, Handler, Sessions
from .store import Store


@dataclass(frozen=True)
class Options:
    """What ``unisend sandbox serve`` was asked for."""

    path: Path
    smtp: tuple[str, int]
    http: tuple[str, int]
    credentials: tuple[str, str] | None = None
    tls: bool = False


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling (it re-raises the signal at exit, which
    would turn a clean SIGTERM into a non-zero exit); :func:`serve` stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """Whether ``host`` means every interface."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def bind(host: str, port: int, what: str) -> socket.socket:
    """A listening TCP socket on ``host:port``."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen for {what} on {host}:{port}: {exc.strerror or exc}"
        ) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        flag = "--smtp" if what == "SMTP" else "--http"
        raise ConfigurationError(
            f"cannot listen for {what} on {host}:{port}: {exc.strerror or exc}; "
            f"choose another address with {flag} HOST:PORT"
        ) from None
    return sock


def _where(sock: socket.socket) -> tuple[str, int]:
    host, port = sock.getsockname()[:2]
    return host, int(port)


def _show(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def banner(options: Options, smtp: tuple[str, int], http: tuple[str, int], tls: str) -> str:
    """What the server prints when it is ready."""
    smtp_host, smtp_port = smtp
    auth = "AUTH required (--smtp-auth)" if options.credentials else "any AUTH accepted"
    security = f"STARTTLS offered, self-signed, SHA-256 {tls}" if tls else "no TLS"
    lines = [
        f"unisend inbox: storing mail in {options.path}",
        f"  SMTP  {_show(smtp_host, smtp_port)}  ({auth}, {security})",
        f"        point your app at host {smtp_host}, port {smtp_port}",
        f"  Web   http://{_show(*http)}/",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines) + "\n"


def warnings_for(options: Options) -> Sequence[str]:
    """The warnings to print before serving (binding beyond loopback)."""
    notes = []
    for what, (host, port) in (("SMTP", options.smtp), ("web inbox", options.http)):
        if not is_loopback(host):
            note = (
                f"warning: the {what} listens on {_show(host, port)}, reachable from other "
                "machines: anyone who can reach it can read (and delete) every stored message"
            )
            if what == "web inbox" and is_wildcard(host):
                note += "; the Host header check against DNS rebinding is off"
            notes.append(note)
    return notes


async def serve(options: Options, out: TextIO) -> None:
    """Run until SIGINT or SIGTERM."""
    for note in warnings_for(options):
        sys.stderr.write(note + "\n")
    store = Store(options.path)
    try:
        store.open()
    except Exception as exc:
        raise ConfigurationError(f"cannot open the sandbox store {options.path}: {exc}") from None
    smtp_sock = bind(*options.smtp, "SMTP")
    try:
        http_sock = bind(*options.http, "HTTP")
    except BaseException:
        smtp_sock.close()
        raise
    fingerprint = ""
    tls_context = None
    if options.tls:
        from .tls import server_context

        tls_context, fingerprint = server_context(options.smtp[0])

    loop = asyncio.get_running_loop()
    broker = Broker(store)

    async def ingest(raw: bytes, sender: str, recipients: Sequence[str]) -> int:
        new_id = await asyncio.to_thread(store.add, raw, sender, recipients)
        broker.notify()
        return new_id

    credentials = Credentials(*options.credentials) if options.credentials else None
    sessions = Sessions(Handler(ingest), tls_context=tls_context, credentials=credentials)
    smtp_server = await loop.create_server(sessions, sock=smtp_sock)

    http_host, http_port = _where(http_sock)
    app = inbox_app.build(
        store, broker, host=http_host, port=http_port, any_host=is_wildcard(http_host)
    )
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "mail.log"):
        logging.getLogger(name).setLevel(logging.ERROR)
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        log_level="error",
        access_log=False,
        http="h11",
        ws="none",
        server_header=False,
        timeout_graceful_shutdown=2,
        h11_max_incomplete_event_size=64 * 1024,
    )
    web = _Uvicorn(config)
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    poller = asyncio.create_task(broker.run())
    web_task = asyncio.create_task(web.serve(sockets=[http_sock]))
    try:
        while not web.started and not web_task.done():  # noqa: ASYNC110 - uvicorn has a flag only
            await asyncio.sleep(0.01)
        if web_task.done():
            web_task.result()
            return
        out.write(banner(options, _where(smtp_sock), (http_host, http_port), fingerprint))
        out.flush()
        stop_wait = asyncio.create_task(stopping.wait())
        await asyncio.wait({stop_wait, web_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
    finally:
        broker.close()
        web.should_exit = True
        smtp_server.close()
        sessions.close_all()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(web_task, 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(poller, 2)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        http_sock.close()
        store.close()
    out.write("unisend inbox: stopped\n")
    out.flush()
