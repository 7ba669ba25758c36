"""The ``unisend sandbox serve`` subcommand: :func:`add_parser` and :func:`run`.

Importing this module is cheap; the server's dependencies load only in :func:`run`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

from .._errors import ConfigurationError

#: Where SMTP and the web inbox listen unless told otherwise: loopback only.
DEFAULT_SMTP, DEFAULT_HTTP = "127.0.0.1:1025", "127.0.0.1:8025"


def add_parser(actions: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to the ``sandbox`` subcommands."""
    serve = actions.add_parser(
        "serve",
        help="run a local SMTP server and web inbox over the sandbox",
        description="Receive mail over SMTP into the sandbox store and show it in a browser. "
        "Listens on loopback only unless a host is given. Needs unisend[server].",
    )
    serve.add_argument(
        "--path",
        metavar="FILE",
        default=argparse.SUPPRESS,  # keep `sandbox --path FILE serve` working too
        help="the sandbox file (default as for `sandbox list`)",
    )
    serve.add_argument(
        "--smtp", default=DEFAULT_SMTP, metavar="HOST:PORT", help=f"SMTP (default {DEFAULT_SMTP})"
    )
    serve.add_argument(
        "--http",
        default=DEFAULT_HTTP,
        metavar="HOST:PORT",
        help=f"web inbox and API (default {DEFAULT_HTTP})",
    )
    serve.add_argument(
        "--smtp-auth", metavar="USER:PASS", help="require SMTP AUTH with these credentials"
    )
    serve.add_argument(
        "--tls", action="store_true", help="offer STARTTLS with a certificate made at start"
    )
    return serve  # type: ignore[no-any-return]


def host_port(text: str, flag: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as a pair; port 0 picks a free one."""
    host, colon, port = text.strip().rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(
            f"{flag} {text!r} must look like HOST:PORT, e.g. 127.0.0.1:1025 or [::1]:1025"
        )
    return host, int(port)


def _credentials(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    user, colon, password = text.partition(":")
    if not colon or not user or not password:
        # never echo the value: it is a password
        raise ConfigurationError("--smtp-auth must look like USER:PASS (both non-empty)")
    return user, password


def store_path(path: str | None) -> Path:
    """The sandbox file, found as ``unisend sandbox list`` finds it: ``--path``, else the
    path of a ``sandbox://`` ``$UNISEND_URL``, else ``$UNISEND_SANDBOX``, else
    ``./.unisend/sandbox.sqlite3`` (without importing the sandbox transport, which loads
    pydantic, unless ``$UNISEND_URL`` names a sandbox)."""
    if path is None:
        url = os.environ.get("UNISEND_URL", "").strip()
        if url.lower().startswith("sandbox://"):
            from .._url import parse_url
            from ..transports.sandbox import path_from_spec

            path = path_from_spec(parse_url(url))
    from ..transports._sandbox_schema import DEFAULT_PATH, ENV_VAR

    chosen = path or os.environ.get(ENV_VAR) or DEFAULT_PATH
    return Path(chosen).expanduser().absolute()


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Serve until SIGINT/SIGTERM; return the exit code (0 on a clean stop)."""
    import asyncio

    path = store_path(args.path)

    smtp, http = host_port(args.smtp, "--smtp"), host_port(args.http, "--http")
    credentials = _credentials(args.smtp_auth)
    try:
        from .serve import Options, serve
    except ImportError as exc:
        raise ConfigurationError(
            f"`unisend sandbox serve` needs the server extra ({exc.name} is missing): "
            "pip install 'unisend[server]'"
        ) from None
    options = Options(path=path, smtp=smtp, http=http, credentials=credentials, tls=args.tls)
    asyncio.run(serve(options, out))
    return 0
