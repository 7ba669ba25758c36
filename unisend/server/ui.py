"""The web inbox page and its static files (plain HTML, CSS and JavaScript in
``static/``: no build step, no CDN, works offline), read once at start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

#: The page's CSP: its own script and style only; frames only from this server.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
    "/favicon.ico": ("favicon.svg", "image/svg+xml"),
}


def routes() -> list[Route]:
    """One route per static file, each served from memory."""
    folder = resources.files(__package__) / "static"
    result = []
    for path, (name, media_type) in _FILES.items():
        body = (folder / name).read_bytes()
        result.append(Route(path, _serve(body, media_type), methods=["GET"]))
    return result


def _serve(body: bytes, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return Response(
            body,
            media_type=media_type,
            headers={"content-security-policy": PAGE_CSP, "x-frame-options": "DENY"},
        )

    return endpoint
