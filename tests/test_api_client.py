"""ApiClient, the providers' sync httpx client: no cookie jar, URLs parsed once."""

from __future__ import annotations

import httpx
import pytest
from servers.http import HttpStub, http_stub, stub  # noqa: F401 - fixtures

from unisend import Message
from unisend.transports import PostmarkTransport, SendGridTransport, _sync_http
from unisend.transports._sync_http import ApiClient


def test_api_client_ignores_cookies() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"Set-Cookie": "lb=abc; Path=/"}, json={})

    with ApiClient(base_url="https://api.test", transport=httpx.MockTransport(handler)) as c:
        c.post("/a", json={})
        c.post("/a", json={})
        c.cookies = httpx.Cookies({"x": "y"})  # ignored as well
        c.post("/a", json={})
    assert len(c.cookies) == 0
    assert all("cookie" not in r.headers for r in sent)


def test_api_client_caches_urls_but_sends_each_to_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sync_http, "URL_CACHE_SIZE", 4)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    with ApiClient(transport=httpx.MockTransport(handler)) as client:
        urls = [f"https://api.test/p{i}?k={i}" for i in range(10)] * 2
        for url in urls:
            client.request("POST", url, json={})
        assert len(client._urls) <= 4
        first = client._urls[urls[-1]]
        client.request("POST", urls[-1], json={})
        assert client._urls[urls[-1]] is first
    assert seen == [*urls, urls[-1]]


def test_providers_use_an_api_client_on_one_pooled_connection(stub: HttpStub) -> None:  # noqa: F811
    message = Message(sender="ann@example.com", to="bob@example.com", text="hi")
    with PostmarkTransport(server_token="k", base_url=stub.url) as transport:
        results = [transport.send(message) for _ in range(20)]
        client = transport._sync_client()
        assert isinstance(client, ApiClient)
    assert all(r.message_id for r in results)
    assert stub.stats()["by_route"] == {"postmark": 20}


def test_an_injected_client_is_used_as_given() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, headers={"X-Message-Id": "given"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    transport = SendGridTransport(api_key="k", client=client)
    message = Message(sender="ann@example.com", to="bob@example.com", text="hi")
    assert transport.send(message).message_id == "given"
    assert transport._sync_client() is client


async def test_async_api_client_ignores_cookies_and_caches_urls() -> None:
    from unisend.transports._sync_http import AsyncApiClient

    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"Set-Cookie": "lb=abc; Path=/"}, json={})

    async with AsyncApiClient(transport=httpx.MockTransport(handler)) as client:
        for _ in range(3):
            await client.request("POST", "https://api.test/a", json={})
        assert len(client.cookies) == 0
        assert list(client._urls) == ["https://api.test/a"]
    assert len(sent) == 3
    assert all("cookie" not in r.headers for r in sent)


async def test_providers_async_client_is_lean(stub: HttpStub) -> None:  # noqa: F811
    from unisend.transports._sync_http import AsyncApiClient

    message = Message(sender="ann@example.com", to="bob@example.com", text="hi")
    async with SendGridTransport(api_key="k", base_url=stub.url) as transport:
        results = [await transport.asend(message) for _ in range(5)]
        assert isinstance(transport._aclient(), AsyncApiClient)
    assert all(r.message_id for r in results)
    assert stub.stats()["by_route"] == {"sendgrid": 5}


def test_every_client_shares_one_tls_context_whatever_the_base_url() -> None:
    """httpx's default (verify=True) loads the CA bundle for each client it builds, 20 to
    30 ms; the providers' clients all take the library's one cached context instead, for
    an http:// base URL (a local test server) as for https://."""
    from unisend._tls import client_context

    contexts = []
    for base_url in ("http://127.0.0.1:9", "http://localhost:8025", "https://api.example.com"):
        transport = PostmarkTransport(server_token="token", base_url=base_url)
        with transport:
            pool = transport._sync_client()._transport._pool  # type: ignore[attr-defined]
            contexts.append(pool._ssl_context)
    assert all(context is client_context() for context in contexts)
