"""The httpx internals the lean clients rest on (``_sync_http``, ``_async_http``).

``pyproject.toml`` pins the httpx range these were measured on; when httpx changes any
of them, these tests say which, before a user finds out: cookies slipping back in, a
request that differs from the one httpx would build, or a proxy bypassed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from unisend.transports._async_http import AsyncApiClient
from unisend.transports._sync_http import ApiClient, _NoCookies

ROOT = Path(__file__).resolve().parents[1]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_installed_httpx_is_in_the_pinned_range() -> None:
    pin = re.search(r'"httpx>=([\d.]+),<([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin, "pyproject.toml must pin httpx to a range (>=A,<B): see _sync_http"
    low, high = (_version(v) for v in pin.groups())
    assert low <= _version(httpx.__version__) < high


def test_httpx_init_never_replaces_the_lean_jar() -> None:
    client = ApiClient(cookies={"a": "b"})
    assert isinstance(client.cookies, _NoCookies) and len(client.cookies) == 0
    # httpx keeps its own jar in an attribute of its own, which the lean client never reads
    assert "_cookies" in vars(client)


def _echo(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"Set-Cookie": "lb=1; Path=/"}, json={"ok": 1})

    return httpx.MockTransport(handler)


def test_full_path_ignores_cookies_too() -> None:
    """A hook forces httpx's own path: its cookie handling must still find no jar."""
    seen: list[httpx.Request] = []
    hooks = {"request": [lambda request: None], "response": []}
    with ApiClient(transport=_echo(seen), event_hooks=hooks) as client:
        for _ in range(2):
            client.request("POST", "https://api.test/a", json={})
    assert len(seen) == 2 and all("cookie" not in r.headers for r in seen)


def test_direct_request_is_what_httpx_would_build() -> None:
    seen: list[httpx.Request] = []
    headers = {"Authorization": "Bearer k", "Accept": "application/json"}
    with ApiClient(
        transport=_echo(seen), headers={"User-Agent": "unisend/test"}, timeout=7
    ) as client:
        response = client.request(
            "POST", "https://api.test/v3/send", json={"a": "é"}, headers=headers
        )
        built = client.build_request(
            "POST", "https://api.test/v3/send", json={"a": "é"}, headers=headers
        )
    (sent,) = seen
    assert client._json_headers, "the JSON fast path was not taken"
    assert response.request is sent and response.json() == {"ok": 1}
    assert (sent.method, sent.url) == (built.method, built.url)
    assert sent.headers.raw == built.headers.raw
    assert sent.content == built.content
    assert sent.extensions["timeout"] == built.extensions["timeout"]


def test_a_proxy_from_the_environment_is_still_used(monkeypatch: pytest.MonkeyPatch) -> None:
    direct: list[httpx.Request] = []
    proxied: list[httpx.Request] = []
    client = ApiClient(transport=_echo(direct), mounts={"https://api.test": _echo(proxied)})
    with client:
        client.request("POST", "https://api.test/a", json={})
        client.request("POST", "https://other.test/a", json={})
    assert [str(r.url) for r in proxied] == ["https://api.test/a"]
    assert [str(r.url) for r in direct] == ["https://other.test/a"]
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert ApiClient()._mounts, "httpx no longer mounts environment proxies in _mounts"


async def test_async_direct_request_matches_and_skips_cookies() -> None:
    seen: list[httpx.Request] = []
    async with AsyncApiClient(transport=_echo(seen)) as client:
        for _ in range(2):
            response = await client.request("POST", "https://api.test/a", json={"x": 1})
        built = client.build_request("POST", "https://api.test/a", json={"x": 1})
    assert response.json() == {"ok": 1} and len(client.cookies) == 0
    assert seen[1].headers.raw == built.headers.raw and "cookie" not in seen[1].headers


@pytest.mark.parametrize(
    ("fields", "streams"),
    [
        ({}, False),
        ({"html": "<p>" + "x" * 80 + "</p>"}, True),
        ({"subject": "s" * 80}, True),
        ({"metadata": {"k": "v"}}, True),
        ({"tags": ["t" * 80]}, True),
        ({"tags": ["short"]}, False),
    ],
)
def test_only_a_message_that_can_hold_a_long_string_is_scanned(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, object], streams: bool
) -> None:
    from unisend import Message
    from unisend.transports import _json_body
    from unisend.transports._http import may_stream

    monkeypatch.setattr(_json_body, "STREAM_STRING_CHARS", 50)
    message = Message(sender="a@example.com", to="b@example.com", text="hi", **fields)  # type: ignore[arg-type]
    assert may_stream([message]) is streams
    assert (
        may_stream([Message(sender="a@example.com", to="b@example.com", text="x"), message])
        is streams
    )


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"Content-Type": "application/json; charset=utf-8"},
        {"Content-Length": "9"},
        {"Host": "h"},
    ],
)
def test_json_requests_match_httpx_whatever_the_headers(extra: dict[str, str]) -> None:
    seen: list[httpx.Request] = []
    headers = {"api-key": "secret", **extra}
    with ApiClient(transport=_echo(seen)) as client:
        for _ in range(2):  # the second from the cache
            client.request(
                "POST", "http://api.test:8025/v3/smtp/email", json={"n": 1}, headers=headers
            )
        built = client.build_request(
            "POST", "http://api.test:8025/v3/smtp/email", json={"n": 1}, headers=headers
        )
    assert all(r.headers.raw == built.headers.raw for r in seen)
    assert all(r.content == built.content == b'{"n":1}' for r in seen)


async def test_a_response_whose_content_is_preset_reads_as_httpx_would() -> None:
    """The aiohttp adapter stores an already-read body in ``Response._content`` (what
    ``aread()`` keeps after the identity decoder); httpx must read it from there."""
    body = b'{"message_ids": ["a"]}'
    request = httpx.Request("POST", "https://api.example.com/api/send")

    class Untouched(httpx.AsyncByteStream):
        # Had httpx ignored _content and read the stream, it would get the same bytes
        # from a ByteStream and this test could not tell: a stream read fails it.
        async def __aiter__(self) -> AsyncIterator[bytes]:
            raise AssertionError("httpx read the stream: a read body is no longer _content")
            yield b""  # pragma: no cover

    preset = httpx.Response(
        200, headers=[(b"Content-Type", b"application/json")], stream=Untouched()
    )
    preset.request = request
    preset._content = body
    assert await preset.aread() == body
    assert preset.content == body and preset.json() == {"message_ids": ["a"]}
    assert preset.text == body.decode()
