"""The HTTP providers' httpx clients: :class:`ApiClient` and :class:`AsyncApiClient`.

On the shared bench (benchmarks/RESULTS.md, "Sync HTTP: the client layer, not the
transport") httpcore's sync transport and urllib3's pool each cost about 250 us of CPU per
request: the gap between raw urllib3 and raw ``httpx.Client`` is httpx's client layer.
Two of its costs a provider API client never needs — the cookie jar (29 % of that
layer) and parsing the same endpoint URL on every request (16 %) — are dropped here,
which made ``Mailer.send`` 1.03 to 1.16 times faster than on a plain ``httpx.Client``. A
urllib3 transport underneath was measured too and was slower (0.86 to 0.89 times). The
async twin drops the same two costs on top of the transport ``_async_http`` chooses.
"""

from __future__ import annotations

from typing import Any

import httpx

#: Parsed URLs an :class:`ApiClient` keeps (a provider has a handful of endpoints).
URL_CACHE_SIZE = 64


class _NoCookies(httpx.Cookies):
    """A jar that never stores a cookie: a provider API client has no session (the
    async side runs aiohttp with ``DummyCookieJar`` for the same reason)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Ignore ``Set-Cookie``."""

    def set_cookie_header(self, request: httpx.Request) -> None:
        """Send no ``Cookie``."""


class _Lean:
    """What both lean clients share: an always-empty cookie jar and a cache of parsed
    endpoint URLs. Mixed in before httpx's client class, so its ``cookies`` wins."""

    _no_cookies: httpx.Cookies
    _urls: dict[str, httpx.URL]

    def _lean_init(self) -> None:
        self._no_cookies = _NoCookies()
        self._urls = {}

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty; see :class:`ApiClient`."""
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        pass  # httpx's __init__ fills its own attribute, never this setter

    def _parsed(self, url: httpx.URL | str) -> httpx.URL | str:
        if not isinstance(url, str):
            return url
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed


class ApiClient(_Lean, httpx.Client):
    """``httpx.Client`` minus what a provider API client pays for and never uses.

    Two costs of httpx's client layer go: the cookie jar (``http.cookiejar`` runs on
    every response, even without ``Set-Cookie``), and parsing the same endpoint URL
    string on every request (a parsed ``httpx.URL`` is immutable and reused). Everything
    else, transports, timeouts, proxies from the environment, event hooks, is httpx's.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lean_init()

    def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        """``httpx.Client.request`` with ``url`` parsed once per distinct string."""
        return super().request(method, self._parsed(url), **kwargs)


class AsyncApiClient(_Lean, httpx.AsyncClient):
    """The async twin of :class:`ApiClient`, over whichever transport ``_async_http``
    chose (aiohttp there runs with a dummy cookie jar already)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lean_init()

    async def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        """``httpx.AsyncClient.request`` with ``url`` parsed once per distinct string."""
        return await super().request(method, self._parsed(url), **kwargs)


__all__ = ["URL_CACHE_SIZE", "ApiClient", "AsyncApiClient"]
