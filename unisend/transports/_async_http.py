"""The HTTP providers' async client, :class:`AsyncApiClient`, and the transport under it.

httpx stays the API the providers speak; what moves the bytes is chosen for throughput
at high concurrency. httpcore's single pool spends CPU per request in proportion to its
size (encode/httpcore#1035), so one pool of 128 connections manages about 100 msgs/s
against a provider that answers in 50 ms, where 2,560 would be possible. Measured on the
shared bench at 128 in flight (benchmarks/RESULTS.md):

* with aiohttp installed (``pip install unisend[fast]``), unisend's own adapter onto
  aiohttp (:mod:`._aiohttp`): 1,900 to 2,050 msgs/s, 0.93 of raw aiohttp, 18 times one
  big pool;
* otherwise many small httpcore pools side by side, each request going to the least busy
  one: 1,250 to 1,400 msgs/s, 12 to 13 times one big pool, with no extra dependency
  (``sniffio`` installed: httpcore imports it in every lock it creates).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import httpx

from ._sync_http import _BODY_OPTIONS, _Lean

#: Connections one async client may open (the mailer's ``concurrency`` bounds use).
ASYNC_MAX_CONNECTIONS = 256
#: Connections per httpcore pool in the fallback; small pools keep httpcore's cost flat.
SHARD_SIZE = 2
#: Use aiohttp when it is installed (False: always the httpcore pools).
USE_AIOHTTP = True


def async_transport(
    verify: Callable[[], ssl.SSLContext | bool],
    *,
    max_connections: int = ASYNC_MAX_CONNECTIONS,
) -> httpx.AsyncBaseTransport:
    """The fastest async transport available; ``verify()`` gives the TLS setting.

    Nothing is built here: the first request builds the transport in a worker thread,
    because importing aiohttp and loading the CA certificates take 100 to 300 ms that
    must not block the event loop.
    """
    return _Deferred(verify, max_connections)


def _build(verify: Callable[[], ssl.SSLContext | bool], max_connections: int) -> Any:
    context = httpx.create_ssl_context(verify=verify())  # one TLS context, built once
    if USE_AIOHTTP:
        try:
            from ._aiohttp import AiohttpTransport
        except ImportError:  # no aiohttp: the extra "fast" is not installed
            pass
        else:
            return AiohttpTransport(context, max_connections)
    return ShardedTransport(context, max_connections)


class _Deferred(httpx.AsyncBaseTransport):
    """Builds the real transport off the event loop on the first request, then delegates."""

    def __init__(self, verify: Callable[[], ssl.SSLContext | bool], max_connections: int):
        self._verify = verify
        self._max_connections = max_connections
        self._real: httpx.AsyncBaseTransport | None = None
        self._building: asyncio.Future[httpx.AsyncBaseTransport] | None = None

    async def _ready(self) -> httpx.AsyncBaseTransport:
        if self._building is None:
            self._building = asyncio.ensure_future(
                asyncio.to_thread(_build, self._verify, self._max_connections)
            )
        # concurrent first requests share one build; a cancelled caller does not cancel it
        real = await asyncio.shield(self._building)
        self._real = real
        return real

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on the real transport (built on first use)."""
        real = self._real or await self._ready()
        return await real.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the real transport, if one was built."""
        if self._real is None and self._building is not None:
            await asyncio.gather(self._building, return_exceptions=True)
            if not self._building.cancelled() and self._building.exception() is None:
                self._real = self._building.result()
        if self._real is not None:
            await self._real.aclose()


class ShardedTransport(httpx.AsyncBaseTransport):
    """Many small httpcore pools; each request goes to the one with fewest in flight.
    Responses come back read in full."""

    def __init__(self, context: ssl.SSLContext, max_connections: int = ASYNC_MAX_CONNECTIONS):
        shards = max(1, -(-max_connections // SHARD_SIZE))
        limits = httpx.Limits(max_connections=SHARD_SIZE, max_keepalive_connections=SHARD_SIZE)
        self._shards = [
            httpx.AsyncHTTPTransport(verify=context, limits=limits) for _ in range(shards)
        ]
        self._busy = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on the least busy pool."""
        busy = self._busy
        index = busy.index(min(busy))
        busy[index] += 1
        try:
            response = await self._shards[index].handle_async_request(request)
            try:
                # The whole body now (the providers' clients read it all anyway), so the
                # connection is back in its pool and the slot free when this returns.
                await response.aread()
            finally:
                await response.aclose()
        finally:
            busy[index] -= 1
        return response

    async def aclose(self) -> None:
        """Close every pool."""
        for shard in self._shards:
            await shard.aclose()


class AsyncApiClient(_Lean, httpx.AsyncClient):
    """The async twin of :class:`~unisend.transports._sync_http.ApiClient`: requests go
    straight to the transport chosen here when nothing of httpx's client layer applies."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lean_init()

    async def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        """``httpx.AsyncClient.request``, straight to the transport when it can be."""
        parsed = self._parsed(url)
        headers = kwargs.pop("headers", None)
        if kwargs.keys() <= _BODY_OPTIONS:
            direct = self._direct(method, parsed, headers, kwargs)
            if direct is not None:
                request = direct[0]
                transport: httpx.AsyncBaseTransport = direct[1]
                if type(transport) is _Deferred and transport._real is not None:
                    # Each coroutine layer between a request and the socket is resumed
                    # at every suspension and stays alive (for the garbage collector to
                    # walk) while the request is in flight: skip the builder once it built.
                    transport = transport._real
                response = await transport.handle_async_request(request)
                response.request = request
                try:
                    await response.aread()
                except BaseException:
                    await response.aclose()
                    raise
                return response
        return await super().request(method, parsed, headers=headers, **kwargs)


__all__ = [
    "ASYNC_MAX_CONNECTIONS",
    "SHARD_SIZE",
    "USE_AIOHTTP",
    "AsyncApiClient",
    "ShardedTransport",
    "async_transport",
]
