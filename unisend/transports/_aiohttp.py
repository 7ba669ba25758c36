"""An httpx transport that moves the bytes with aiohttp (extra ``fast``).

httpx stays the API the providers speak (``httpx.Request`` in, ``httpx.Response`` out,
so injected transports and ``MockTransport`` keep working); aiohttp's connection pool
and parser carry the request, which at 128 requests in flight is several times faster
than httpcore's pool. This is a direct adapter, lighter than httpx-aiohttp's: the
request's headers and body are handed over as they are, the whole response body is
read at once (unisend reads every response in full) and the connection goes back to
the pool before httpx sees the response. Content-Encoding is left to httpx, which
decodes what it announced in Accept-Encoding.

Importing this module imports aiohttp (about 200 ms), so it is loaded on the first async
request, never by ``import unisend``.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import aiohttp
import httpx
import yarl
from multidict import CIMultiDict


class AiohttpTransport(httpx.AsyncBaseTransport):
    """aiohttp underneath httpx: one pool of ``max_connections``, one TLS context,
    no cookies, no redirects, no proxy from the environment (as before).

    Failures become the httpx errors that say when they happened: before the request
    left (``ConnectError``, ``ConnectTimeout``: safe to retry) or after
    (``ReadTimeout``, ``ReadError``: the provider may have accepted the message).
    """

    def __init__(self, context: ssl.SSLContext, max_connections: int) -> None:
        self._context = context
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Built on the running loop, at the first request.
        connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._context)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the whole response; see the class docstring for errors."""
        session = self._session or self._open()
        timeout = request.extensions.get("timeout") or {}
        data: bytes | httpx.AsyncByteStream | None
        headers = request.headers.raw
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body (a large message's JSON)
            data = request.stream  # type: ignore[assignment]
            headers = [(k, v) for k, v in headers if k.lower() != b"transfer-encoding"]
        try:
            async with session.request(
                request.method,
                _url(str(request.url)),
                # One object for the request's lifetime, not a list of tuples (fewer
                # objects for the garbage collector to walk while it is in flight).
                headers=CIMultiDict(
                    (key.decode("latin-1"), value.decode("latin-1")) for key, value in headers
                ),
                data=data,
                allow_redirects=False,
                compress=False,
                timeout=_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
                server_hostname=request.extensions.get("sni_hostname"),
            ) as response:
                body = await response.read()
        except aiohttp.ClientError as exc:
            raise _httpx_error(exc, request) from exc
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        result = httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions=extensions,
        )
        if "Content-Encoding" not in response.headers:  # aiohttp's C multidict: cheap
            # What aread() would store after passing the bytes through httpx's identity
            # decoder; httpx < 0.30 keeps it here (tests/test_httpx_internals.py).
            result._content = body
        return result

    async def aclose(self) -> None:
        """Close the pool, if one was opened."""
        if self._session is not None:
            await self._session.close()
            self._session = None


@functools.lru_cache(maxsize=64)
def _url(url: str) -> yarl.URL:
    # httpx has already encoded the URL; a provider client uses a handful of them.
    return yarl.URL(url, encoded=True)


@functools.lru_cache(maxsize=16)
def _timeout(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    # httpx's "pool" (waiting for a free connection) is aiohttp's "connect", which also
    # covers opening one; aiohttp's "sock_connect" is the connect itself.
    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)


def _httpx_error(exc: aiohttp.ClientError, request: httpx.Request) -> httpx.TransportError:
    """The httpx error for an aiohttp failure, by when it happened."""
    text = str(exc) or type(exc).__name__
    error: httpx.TransportError
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = httpx.ConnectTimeout(text)
    elif isinstance(exc, aiohttp.ServerTimeoutError):
        error = httpx.ReadTimeout(text)
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error = httpx.ConnectError(text)  # refused, unresolved, TLS: nothing was sent
    elif isinstance(exc, aiohttp.InvalidURL):
        error = httpx.UnsupportedProtocol(text)
    else:
        error = httpx.ReadError(text)  # the connection failed once the request was out
    error.request = request
    return error


__all__ = ["AiohttpTransport"]
