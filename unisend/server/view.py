"""The HTML of one message, as the inbox frames it: ``GET /view/{id}.html``.

The HTML is untrusted and is never sanitised into something "safe"; it is made inert:

- the response's own ``Content-Security-Policy`` runs no script at all, loads images,
  styles and fonts only from this server (the message's ``cid:`` parts, rewritten to
  their attachment URLs) and carries the ``sandbox`` directive, so the document is in an
  opaque origin even when opened directly, outside the inbox's ``<iframe sandbox>``;
- remote images, styles and fonts load only with ``?remote=1`` (the "load remote
  content" button); scripts never do.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .api import error
from .mime import Parsed, parse, resolve_cids
from .store import Store

_BASE = (
    "default-src 'none'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-src 'none'; child-src 'none'; connect-src 'none'; "
    "media-src 'none'; manifest-src 'none'; worker-src 'none'; frame-ancestors 'self'; sandbox"
)
#: The framed message's CSP: local parts only.
LOCAL_CSP = (
    f"{_BASE}; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:"
)
#: After "load remote content": remote images, styles and fonts too, still no script.
REMOTE_CSP = f"{_BASE}; img-src * data:; style-src * 'unsafe-inline'; font-src * data:"


class View:
    """The ``/view/{id}.html`` route."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def routes(self) -> list[Route]:
        """The Starlette route."""
        return [Route("/view/{id}.html", self.html, methods=["GET"])]

    async def html(self, request: Request) -> Response:
        """The message's HTML with ``cid:`` resolved, under a script-free CSP."""
        text = request.path_params["id"]
        id = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
        raw = None if id is None else await run_in_threadpool(self._store.raw, id)
        if raw is None:
            return error(404, f"no message {text[:40]!r} in the inbox")
        parsed: Parsed = await run_in_threadpool(parse, raw)
        if parsed.html is None:
            return error(404, f"message {id} has no HTML part")
        urls = {a.index: f"/api/messages/{id}/attachments/{a.index}" for a in parsed.attachments}
        body = resolve_cids(parsed.html, parsed, urls)
        remote = request.query_params.get("remote") == "1"
        return Response(
            body.encode("utf-8", "replace"),
            media_type="text/html; charset=utf-8",
            headers={"content-security-policy": REMOTE_CSP if remote else LOCAL_CSP},
        )
