"""The aiohttp transport under the async providers' client (extra ``fast``), on a raw
HTTP/1.1 server on loopback that each test scripts: what goes out, what comes back,
and which httpx error each failure becomes (before the request left or after)."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import trustme

pytest.importorskip("aiohttp", reason="the aiohttp transport is the extra 'fast'")

import aiohttp

from unisend.transports._aiohttp import AiohttpTransport, _httpx_error

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """A loopback server running ``handler`` per connection; records what it read."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, handler: Handler, tls: ssl.SSLContext | None = None) -> RawServer:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def read_request(self, reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length)
        self.requests.append((head, body))
        return head, body

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    raw = RawServer()
    yield raw
    if raw.server is not None:
        await raw.close()


def _answer(status: bytes, headers: list[bytes], body: bytes) -> bytes:
    lines = [b"HTTP/1.1 " + status, *headers, b"Content-Length: " + str(len(body)).encode()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _keep_answering(server: RawServer, reply: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await server.read_request(reader)
            writer.write(reply)
            await writer.drain()

    return handler


def _transport(context: ssl.SSLContext | None = None) -> AiohttpTransport:
    return AiohttpTransport(context or ssl.create_default_context(), max_connections=4)


def _request(url: str, **kwargs: object) -> httpx.Request:
    request = httpx.Request("POST", url, **kwargs)  # type: ignore[arg-type]
    request.extensions["timeout"] = httpx.Timeout(2.0).as_dict()
    return request


async def test_request_goes_out_as_built_and_the_response_comes_back_whole(
    server: RawServer,
) -> None:
    reply = _answer(b"202 Accepted", [b"X-Message-Id: abc", b"X-Two: 1", b"X-Two: 2"], b"{}")
    await server.start(_keep_answering(server, reply))
    transport = _transport()
    request = _request(
        f"http://127.0.0.1:{server.port}/v3/mail/send?a=%2F",
        headers=[
            ("Authorization", "Bearer k"),
            ("User-Agent", "unisend-test"),
            ("X-Tag", "one"),
            ("X-Tag", "two"),
        ],
        json={"subject": "héllo"},
    )
    try:
        response = await transport.handle_async_request(request)
    finally:
        await transport.aclose()
    head, body = server.requests[0]
    assert head.startswith(b"POST /v3/mail/send?a=%2F HTTP/1.1\r\n")
    lines = {
        line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")[1:]
        if line
    }
    assert lines[b"authorization"] == b"Bearer k"
    assert lines[b"user-agent"] == b"unisend-test"
    assert lines[b"content-type"] == b"application/json"
    assert lines[b"content-length"] == str(len(request.content)).encode()
    assert lines[b"host"] == f"127.0.0.1:{server.port}".encode()
    assert [line for line in head.split(b"\r\n") if line.lower().startswith(b"x-tag:")] == [
        b"X-Tag: one",
        b"X-Tag: two",
    ]  # a repeated header goes out as given, in order
    assert body == request.content
    assert response.status_code == 202
    assert response.reason_phrase == "Accepted"
    assert response.headers["x-message-id"] == "abc"
    assert response.headers.get_list("x-two") == ["1", "2"]
    assert response.request is request
    assert await response.aread() == b"{}"
    assert response.json() == {}


async def test_a_compressed_response_is_decoded_by_httpx(server: RawServer) -> None:
    document = b'{"message_ids": ["1"]}'
    reply = _answer(
        b"200 OK",
        [b"Content-Type: application/json", b"Content-Encoding: gzip"],
        gzip.compress(document),
    )
    await server.start(_keep_answering(server, reply))
    transport = _transport()
    try:
        response = await transport.handle_async_request(
            _request(f"http://127.0.0.1:{server.port}/api/send", json={})
        )
        assert await response.aread() == document
    finally:
        await transport.aclose()


async def test_a_streamed_body_arrives_intact(server: RawServer) -> None:
    await server.start(_keep_answering(server, _answer(b"200 OK", [], b"ok")))
    chunks = [b'{"a": "', b"x" * 100_000, b'"}']

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

    length = str(sum(map(len, chunks)))
    request = _request(
        f"http://127.0.0.1:{server.port}/email",
        headers={"Content-Length": length, "Content-Type": "application/json"},
        stream=Body(),
    )
    transport = _transport()
    try:
        response = await transport.handle_async_request(request)
    finally:
        await transport.aclose()
    assert response.status_code == 200
    assert server.requests[0][1] == b"".join(chunks)


async def test_connections_are_kept_alive_and_closed_with_the_transport(
    server: RawServer,
) -> None:
    await server.start(_keep_answering(server, _answer(b"200 OK", [], b"{}")))
    transport = _transport()
    url = f"http://127.0.0.1:{server.port}/email"
    for _ in range(5):
        response = await transport.handle_async_request(_request(url, json={}))
        assert response.status_code == 200
    assert server.connections == 1
    assert len(server.requests) == 5
    await transport.aclose()
    await transport.aclose()  # twice is harmless


async def test_refused_is_a_connect_error_with_the_reason_in_its_chain() -> None:
    holder = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = holder.sockets[0].getsockname()[1]
    holder.close()
    await holder.wait_closed()
    transport = _transport()
    request = _request(f"http://127.0.0.1:{port}/email", json={})
    try:
        with pytest.raises(httpx.ConnectError) as caught:
            await transport.handle_async_request(request)
    finally:
        await transport.aclose()
    assert caught.value.request is request
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
    assert isinstance(caught.value.__cause__.os_error, ConnectionRefusedError)


async def test_no_answer_is_a_read_timeout(server: RawServer) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        await asyncio.sleep(5)

    await server.start(silent)
    transport = _transport()
    request = httpx.Request("POST", f"http://127.0.0.1:{server.port}/email", json={})
    request.extensions["timeout"] = httpx.Timeout(5.0, read=0.2).as_dict()
    try:
        with pytest.raises(httpx.ReadTimeout):
            await transport.handle_async_request(request)
    finally:
        await transport.aclose()
    assert len(server.requests) == 1  # it went out: the error says so by its class


@pytest.mark.parametrize(
    "reply",
    [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", b"NOT HTTP AT ALL\r\n\r\n"],
    ids=["closed", "cut-short", "garbage"],
)
async def test_a_connection_that_breaks_after_sending_is_a_read_error(
    server: RawServer, reply: bytes
) -> None:
    async def breaks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(reply)
        await writer.drain()

    await server.start(breaks)
    transport = _transport()
    try:
        with pytest.raises(httpx.ReadError):
            await transport.handle_async_request(
                _request(f"http://127.0.0.1:{server.port}/email", json={})
            )
    finally:
        await transport.aclose()
    assert len(server.requests) == 1


async def test_tls_uses_the_given_context(server: RawServer) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    await server.start(_keep_answering(server, _answer(b"200 OK", [], b"{}")), server_context)
    url = f"https://localhost:{server.port}/email"

    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    transport = _transport(trusting)
    try:
        response = await transport.handle_async_request(_request(url, json={}))
        assert response.status_code == 200
    finally:
        await transport.aclose()

    stranger = _transport(ssl.create_default_context())  # the system store: not our CA
    try:
        with pytest.raises(httpx.ConnectError) as caught:
            await stranger.handle_async_request(_request(url, json={}))
    finally:
        await stranger.aclose()
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
    assert "certificate" in str(caught.value).lower()


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (aiohttp.ConnectionTimeoutError("connect"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ServerTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.ReadError),
        (aiohttp.ClientPayloadError("cut"), httpx.ReadError),
        (aiohttp.ClientOSError(104, "reset"), httpx.ReadError),
        (aiohttp.InvalidURL("ftp://x"), httpx.UnsupportedProtocol),
    ],
)
def test_each_aiohttp_failure_maps_by_when_it_happened(
    failure: aiohttp.ClientError, expected: type[httpx.TransportError]
) -> None:
    request = httpx.Request("POST", "https://api.example.com/email")
    error = _httpx_error(failure, request)
    assert type(error) is expected
    assert error.request is request
