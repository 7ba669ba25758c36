"""The inbox's ASGI application: the page, the API, the framed HTML and the event
stream, behind the :class:`~.security.Guard`."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import ui
from .api import Api, error
from .events import Broker, EventStream
from .security import Guard
from .store import Store
from .view import View


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    texts = {404: "no such page", 405: "method not allowed"}
    return error(status, texts.get(status, "request failed"))


def build(store: Store, broker: Broker, *, host: str, port: int, any_host: bool = False) -> Any:
    """The ASGI app over ``store``; ``host``/``port`` are where it listens (for the
    Host and Origin checks; ``any_host`` when bound to every interface)."""
    routes = [
        *ui.routes(),
        *Api(store).routes(),
        *View(store).routes(),
        Route("/api/events", EventStream(broker), methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    return Guard(app, host=host, port=port, any_host=any_host)
