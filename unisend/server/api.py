"""The JSON API (DESIGN.md "Local inbox server").

``GET /api/messages?q=&limit=&offset=``, ``GET /api/messages/{id}``,
``GET /api/messages/{id}/raw``, ``GET /api/messages/{id}/attachments/{index}``,
``DELETE /api/messages/{id}``, ``DELETE /api/messages``. Unknown ids and paths answer
404 with a JSON body; bad parameters 400. In a list, ``attachments`` is how many a
message has; in one message, the list of them.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .mime import Parsed, parse
from .store import Row, Store

#: ``limit`` when not given, and its largest value.
DEFAULT_LIMIT, MAX_LIMIT = 50, 500
#: The largest ``offset``, and the longest ``q``.
MAX_OFFSET, MAX_QUERY = 1_000_000, 256

_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._ -]")


def error(status: int, text: str) -> JSONResponse:
    """A JSON error response ``{"error": text}``."""
    return JSONResponse({"error": text}, status_code=status)


class Api:
    """The routes, over one store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._counts: OrderedDict[int, int] = OrderedDict()  # id -> attachments (immutable)
        self._counts_lock = threading.Lock()

    def routes(self) -> list[Route]:
        """Starlette routes for the API."""
        return [
            Route("/api/messages", self.index, methods=["GET"]),
            Route("/api/messages", self.delete_all, methods=["DELETE"]),
            Route("/api/messages/{id}", self.detail, methods=["GET"]),
            Route("/api/messages/{id}", self.delete, methods=["DELETE"]),
            Route("/api/messages/{id}/raw", self.raw, methods=["GET"]),
            Route("/api/messages/{id}/attachments/{index}", self.attachment, methods=["GET"]),
        ]

    # -- reading -----------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        """Newest first, filtered by ``q``, one page of ``limit`` from ``offset``."""
        params = request.query_params
        query = params.get("q", "").strip()
        if len(query) > MAX_QUERY:
            return error(400, f"q is too long (at most {MAX_QUERY} characters)")
        limit = _int(params.get("limit"), DEFAULT_LIMIT, 0, MAX_LIMIT)
        offset = _int(params.get("offset"), 0, 0, MAX_OFFSET)
        if limit is None:
            return error(400, f"limit must be a whole number from 0 to {MAX_LIMIT}")
        if offset is None:
            return error(400, f"offset must be a whole number from 0 to {MAX_OFFSET}")
        total, rows = await run_in_threadpool(self._store.search, query, limit, offset)
        counts = await run_in_threadpool(self._attachment_counts, rows)
        messages = [_summary(row) | {"attachments": counts[row.id]} for row in rows]
        return JSONResponse({"total": total, "messages": messages})

    def _attachment_counts(self, rows: list[Row]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for row in rows:
            with self._counts_lock:
                known = self._counts.get(row.id)
            if known is None:
                raw = self._store.raw(row.id)
                known = len(_parse(raw).attachments) if raw is not None else 0
                with self._counts_lock:
                    self._counts[row.id] = known
                    if len(self._counts) > 10_000:
                        self._counts.popitem(last=False)
            counts[row.id] = known
        return counts

    async def detail(self, request: Request) -> Response:
        """One message: the list fields plus headers, text, html and attachments."""
        found = await self._load(request)
        if isinstance(found, Response):
            return found
        row, parsed = found
        body = _summary(row) | {
            "headers": [[name, value] for name, value in parsed.headers],
            "text": parsed.text,
            "html": parsed.html,
            "attachments": [a.summary() for a in parsed.attachments],
        }
        return JSONResponse(body)

    async def raw(self, request: Request) -> Response:
        """The stored bytes, exactly (``message/rfc822``)."""
        id = _id(request.path_params["id"])
        raw = None if id is None else await run_in_threadpool(self._store.raw, id)
        if raw is None:
            return _no_message(request.path_params["id"])
        return Response(
            raw,
            media_type="message/rfc822",
            headers={"content-disposition": f'inline; filename="message-{id}.eml"'},
        )

    async def attachment(self, request: Request) -> Response:
        """One attachment's decoded bytes, always as a download."""
        found = await self._load(request)
        if isinstance(found, Response):
            return found
        row, parsed = found
        index = _int(request.path_params["index"], None, 0, len(parsed.attachments) - 1)
        if index is None:
            wanted = request.path_params["index"][:20]
            return error(404, f"message {row.id} has no attachment {wanted!r}")
        part = parsed.attachments[index]
        content_type = part.content_type if _TYPE.match(part.content_type) else ""
        return Response(
            await run_in_threadpool(part.payload),
            media_type=content_type or "application/octet-stream",
            headers={"content-disposition": content_disposition(part.filename)},
        )

    async def _load(self, request: Request) -> tuple[Row, Parsed] | Response:
        id = _id(request.path_params["id"])
        row = None if id is None else await run_in_threadpool(self._store.get, id)
        if row is None or row.raw is None:
            return _no_message(request.path_params["id"])
        return row, await run_in_threadpool(_parse, row.raw)

    # -- deleting ----------------------------------------------------------------------

    async def delete(self, request: Request) -> Response:
        """Delete one message."""
        id = _id(request.path_params["id"])
        deleted = id is not None and await run_in_threadpool(self._store.delete, id)
        if not deleted:
            return _no_message(request.path_params["id"])
        return JSONResponse({"deleted": 1})

    async def delete_all(self, request: Request) -> Response:
        """Delete every message."""
        return JSONResponse({"deleted": await run_in_threadpool(self._store.delete_all)})


def _parse(raw: bytes) -> Parsed:
    try:
        return parse(raw)
    except RecursionError:  # absurd nesting: show it as a message without parts
        return Parsed(headers=[], text=None, html=None, attachments=[])


def _summary(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "time": row.time,
        "sender": row.sender,
        "recipients": list(row.recipients),
        "subject": row.subject,
        "message_id": row.message_id,
        "size": row.size,
    }


def _id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _int(text: str | None, default: int | None, low: int, high: int) -> int | None:
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _no_message(id: str) -> JSONResponse:
    return error(404, f"no message {id[:40]!r} in the inbox")


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the exact name as RFC 5987 ``filename*``."""
    fallback = _UNSAFE_FILENAME.sub("_", filename)[:100].strip() or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename[:200], safe='')}"
