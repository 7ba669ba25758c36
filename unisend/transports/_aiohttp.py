"""httpx-aiohttp's transport with failures mapped for the retry logic (extra ``fast``).

Importing this module imports aiohttp (about 200 ms), so it is loaded on the first async
request, never by ``import unisend``.
"""

from __future__ import annotations

import ssl

import aiohttp
import httpx
import httpx_aiohttp


class AiohttpTransport(httpx_aiohttp.AiohttpTransport):
    """aiohttp underneath httpx, one TLS context, cookies ignored.

    httpx-aiohttp 0.2 maps every ``aiohttp.ClientConnectionError`` onto
    ``httpx.ConnectTimeout``, which would tell the retry logic that a request cut off
    after it was sent never left. Failures on an established connection become
    ``httpx.ReadError`` here (ambiguous: the provider may have accepted the message).
    """

    def __init__(self, context: ssl.SSLContext, max_connections: int) -> None:
        limits = httpx.Limits(max_connections=max_connections)
        super().__init__(verify=context, limits=limits, client=self._session)
        self._context = context
        self._max_connections = max_connections

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._context)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through aiohttp; see the class docstring for errors."""
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if cause is None or isinstance(
                cause, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
            ):
                raise
            raise httpx.ReadError(str(exc), request=request) from cause


__all__ = ["AiohttpTransport"]
