"""Fixtures for the conformance suite: the loopback HTTP stub, and respx-visible async
requests for the tests that mock with respx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from echo_server import EchoServer
from servers.http import http_stub, https_stub, stub  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    """A loopback server that echoes the request headers in the answer the test sets."""
    server = EchoServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(autouse=True)
def respx_sees_async_requests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """respx intercepts httpcore, not the aiohttp transport the async path uses when
    aiohttp is installed: respx tests get the httpcore transport, stub tests keep
    the default, so both async transports are exercised."""
    if {"stub", "http_stub", "https_stub"} & set(request.fixturenames):
        return
    from unisend.transports import _async_http

    monkeypatch.setattr(_async_http, "USE_AIOHTTP", False)
