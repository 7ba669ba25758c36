"""Headers and request checks applied to every HTTP request (pure ASGI middleware).

- ``Host`` must name this server (loopback names and the bound host): a page that
  rebinds its own DNS name to 127.0.0.1 gets 421, never the mail.
- A request that changes state (anything but GET/HEAD/OPTIONS), and the event stream,
  are refused with 403 when they carry an ``Origin`` that is not this server
  (cross-site request forgery; Mailpit's CVE-2026-22689 was the event socket).
- Request bodies over :data:`MAX_BODY` are refused (413); the API takes none.
- Every response gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  no-referrer`` and, unless the route set its own, the strictest CSP (nothing loads,
  nothing runs, sandboxed), so an attachment or raw message opened directly is inert.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

#: Request body bytes accepted, at most.
MAX_BODY = 64 * 1024
#: The CSP of responses that do not set one: inert.
DEFAULT_CSP = (
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"
)

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


class Guard:
    """Wraps the app: Host and Origin checks, body cap, security headers."""

    def __init__(self, app: Any, *, host: str, port: int, any_host: bool = False) -> None:
        self._app = app
        self._any_host = any_host
        names = set(_LOOPBACK_NAMES)
        if host:
            names.add(f"[{host}]" if ":" in host else host.lower())
        self._hosts = {f"{name}:{port}" for name in names} | names
        self._origins = {f"{scheme}://{name}:{port}" for name in names for scheme in ("http",)}
        if port == 80:
            self._origins |= {f"http://{name}" for name in names}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The ASGI entry point."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").strip().lower()
        if not self._any_host and host not in self._hosts:
            await _refuse(send, 421, "unknown Host header; open the inbox at its loopback address")
            return
        origin = headers.get("origin")
        changes = scope["method"] not in _SAFE_METHODS or scope["path"] == "/api/events"
        if changes and origin is not None and not self._same_origin(origin, host):
            await _refuse(send, 403, "cross-origin request refused")
            return
        if headers.get("sec-fetch-site") == "cross-site" and changes:
            await _refuse(send, 403, "cross-site request refused")
            return
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY or "transfer-encoding" in headers:
            await _refuse(send, 413, f"request body too large (at most {MAX_BODY} bytes)")
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_security_headers(message.get("headers", []))
            await send(message)

        await self._app(scope, receive, send_with_headers)

    def _same_origin(self, origin: str, host: str) -> bool:
        origin = origin.strip().lower()
        if self._any_host:
            return origin in (f"http://{host}", f"https://{host}")
        return origin in self._origins


def _with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    result = list(headers)
    present = {name.lower() for name, _ in result}
    if b"content-security-policy" not in present:
        result.append((b"content-security-policy", DEFAULT_CSP.encode()))
    result.append((b"x-content-type-options", b"nosniff"))
    result.append((b"referrer-policy", b"no-referrer"))
    if b"cache-control" not in present:
        result.append((b"cache-control", b"no-store"))
    return result


async def _refuse(send: Any, status: int, text: str) -> None:
    body = json.dumps({"error": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _with_security_headers(
                [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
            ),
        }
    )
    await send({"type": "http.response.body", "body": body})
