"""The HTTP providers' sync httpx client, :class:`ApiClient` (the async twin,
``AsyncApiClient``, is in ``_async_http``; both share :class:`_Lean`).

On the shared bench (benchmarks/RESULTS.md, "Sync HTTP: the client layer, not the
transport") httpcore's sync transport and urllib3's pool each cost about 250 us of CPU per
request: the gap between raw urllib3 and raw ``httpx.Client`` is httpx's client layer.
A provider API client needs none of it but the transport: no auth flow (credentials are
plain headers), no redirects, no event hooks, no cookie jar (29 % of that layer), and the
same handful of endpoint URLs every time (parsing them was 16 %). So a request the
transport can take as it is goes straight to it, as an ``httpx.Request`` built once and
answered by an ``httpx.Response`` (benchmarks/RESULTS.md, "One delivery engine"). Anything
else (a proxy from the environment, an auth or hook the caller added, extra request
options) takes httpx's full path, unchanged.

These shortcuts rest on httpx internals (``_transport_for_url``, ``_mounts``, the
``cookies`` attribute httpx's ``__init__`` fills): ``pyproject.toml`` pins the httpx
range they were measured on, and ``tests/test_api_client.py`` fails loudly if httpx
changes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

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
    """What both lean clients share: an always-empty cookie jar, a cache of parsed
    endpoint URLs, and the request built for the transport directly. Mixed in before
    httpx's client class, so its ``cookies`` wins."""

    _no_cookies: httpx.Cookies
    _urls: dict[str, httpx.URL]
    _timeout_extensions: tuple[httpx.Timeout, dict[str, Any]] | None
    _json_headers: dict[
        tuple[int, tuple[tuple[str, str], ...]],
        tuple[httpx.URL, tuple[httpx.Headers, bool] | None],
    ]

    # what httpx's client classes provide
    headers: httpx.Headers
    timeout: httpx.Timeout
    _transport: Any
    _mounts: dict[Any, Any]
    _auth: Any
    _event_hooks: dict[str, list[Any]]

    if TYPE_CHECKING:

        def _merge_url(self, url: httpx.URL | str) -> httpx.URL: ...

    def _lean_init(self) -> None:
        self._no_cookies = _NoCookies()
        self._urls = {}
        self._timeout_extensions = None
        self._json_headers = {}

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty; see :class:`ApiClient`."""
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        pass  # httpx's __init__ fills its own attribute, never this setter

    def _parsed(self, url: httpx.URL | str) -> httpx.URL:
        """``url`` joined to the base URL and parsed, once per distinct string."""
        if not isinstance(url, str):
            return self._merge_url(url)
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()
            parsed = self._urls[url] = self._merge_url(httpx.URL(url))
        return parsed

    def _direct(
        self, method: str, url: httpx.URL, headers: Mapping[str, str] | None, body: dict[str, Any]
    ) -> tuple[httpx.Request, Any] | None:
        """The request and the transport to send it on when nothing of httpx's client
        layer applies to it; None otherwise (the caller takes httpx's full path)."""
        if self._auth is not None or self._event_hooks["request"] or self._event_hooks["response"]:
            return None
        transport = self._transport
        if self._mounts:  # a proxy from the environment, or the caller's mounts
            for pattern, mounted in self._mounts.items():
                if pattern.matches(url):
                    if mounted is not None and mounted is not transport:
                        return None
                    break
        if body.keys() == {"json"}:
            return self._json_request(method, url, headers, body["json"]), transport
        merged = httpx.Headers(self.headers)
        if headers:
            merged.update(headers)
        request = httpx.Request(method, url, headers=merged, extensions=self._extensions(), **body)
        return request, transport

    def _json_request(
        self, method: str, url: httpx.URL, headers: Mapping[str, str] | None, document: Any
    ) -> httpx.Request:
        """What ``httpx.Request(method, url, headers=<client's, merged>, json=document)``
        builds, header for header and byte for byte, with the headers merged and
        normalised once per endpoint instead of on every request (a test compares)."""
        # Keyed by the URL object's identity (``_parsed`` hands out one object per
        # string; hashing an httpx.URL would format it again), checked with ``is``.
        key = (id(url), tuple(headers.items()) if headers else ())
        entry = self._json_headers.get(key)
        if entry is None or entry[0] is not url:
            merged = httpx.Headers(self.headers)
            if headers:
                merged.update(headers)
            if "Content-Length" in merged or "Transfer-Encoding" in merged:
                entry = (url, None)  # rare: the caller set it; httpx's own way below
            else:
                host = [] if "Host" in merged or not url.host else [(b"Host", url.netloc)]
                entry = (url, (httpx.Headers(host + merged.raw), "Content-Type" not in merged))
            if len(self._json_headers) >= URL_CACHE_SIZE:
                self._json_headers.clear()
            self._json_headers[key] = entry
        cached = entry[1]
        if cached is None:
            merged = httpx.Headers(self.headers)
            merged.update(headers)
            return httpx.Request(
                method, url, headers=merged, json=document, extensions=self._extensions()
            )
        content = _JSON.encode(document).encode("utf-8")
        prefix, add_type = cached
        request_headers = httpx.Headers(prefix)
        request_headers["Content-Length"] = str(len(content))
        if add_type:
            request_headers["Content-Type"] = "application/json"
        request = httpx.Request(
            method,
            url,
            headers=request_headers,
            stream=httpx.ByteStream(content),
            extensions=self._extensions(),
        )
        request.read()  # as httpx does: error parsers read request.content
        return request

    def _extensions(self) -> dict[str, Any]:
        cached = self._timeout_extensions
        if cached is None or cached[0] is not self.timeout:
            cached = self._timeout_extensions = (self.timeout, {"timeout": self.timeout.as_dict()})
        return dict(cached[1])


#: What ``json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)``
#: uses, built once: ``json.dumps`` with any argument builds a new encoder per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

#: The request options the direct path takes; any other goes through httpx's client.
_BODY_OPTIONS = frozenset({"json", "content"})


class ApiClient(_Lean, httpx.Client):
    """``httpx.Client`` minus what a provider API client pays for and never uses.

    A request with only ``json=`` / ``content=`` and ``headers=`` is built once and sent
    on the transport directly (see the module docstring); every other request, and every
    setting httpx has (transports, timeouts, proxies from the environment, event hooks),
    is httpx's own.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lean_init()

    def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        """``httpx.Client.request``, straight to the transport when it can be."""
        parsed = self._parsed(url)
        headers = kwargs.pop("headers", None)
        if kwargs.keys() <= _BODY_OPTIONS:
            direct = self._direct(method, parsed, headers, kwargs)
            if direct is not None:
                return _send(*direct)
        return super().request(method, parsed, headers=headers, **kwargs)


def _send(request: httpx.Request, transport: httpx.BaseTransport) -> httpx.Response:
    response = transport.handle_request(request)
    response.request = request
    try:
        response.read()
    except BaseException:
        response.close()
        raise
    return response


def __getattr__(name: str) -> Any:
    if name == "AsyncApiClient":  # its home is _async_http; kept importable from here
        from ._async_http import AsyncApiClient

        return AsyncApiClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["URL_CACHE_SIZE", "ApiClient"]
