"""Large messages: the chunked paths that keep a big attachment from being copied whole.

SMTP: the renderer keeps a large attachment's base64 in slices (``Rendered.chunks``) and
the transport writes DATA chunk by chunk, dot-stuffing across chunk boundaries. HTTP: a
JSON body holding a long string (a base64 attachment) is streamed with a known
Content-Length (``_http.JsonBody``). Both must put on the wire exactly what the one-piece
paths would. Correctness only; the memory figures are in benchmarks/attachment_rss.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import smtplib
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st
from servers.http import HttpStub, http_stub, stub  # noqa: F401 - fixtures
from servers.smtp import SMTPServer, smtp_ca, smtp_plain, smtp_server_factory  # noqa: F401

from unisend import Attachment, Message, MessageRejected, TransientError, _mime
from unisend._mime import render
from unisend.transports import (
    PostmarkTransport,
    SendGridTransport,
    SMTPTransport,
    _http,
    _json_body,
)
from unisend.transports._http import ApiRequest, HttpTransport, JsonBody, request_json
from unisend.transports.smtp._transaction import LEADING_DOT as _LEADING_DOT
from unisend.transports.smtp._transaction import send_chunks as _send_chunks

SIZE = 5_000_000
# Lines a naive DATA writer would break: "." alone ends DATA, ".." must arrive as "..".
DOTTED_TEXT = ".first line starts with a dot\n.\n..two dots\nmiddle . dot\n.last\n"


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(SIZE)


def large_message(payload: bytes, **overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "sender": "Ann Sender <ann@example.com>",
        "to": ["Bob <bob@example.com>"],
        "subject": "Large attachment",
        "text": DOTTED_TEXT,
        "html": "<p>see the attachment</p>",
        "attachments": [Attachment("data.bin", payload, "application/octet-stream")],
    }
    fields.update(overrides)
    return Message(**fields)


def compact_json(document: Any) -> bytes:
    """What httpx's ``json=`` sends for ``document``."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


# -- rendering -----------------------------------------------------------------------


LAYOUTS: dict[str, Callable[[bytes], dict[str, Any]]] = {
    "text+html, one attachment": lambda payload: {},
    "inline image in related, attachments after": lambda payload: {
        "html": '<p><img src="cid:img1"></p>',
        "attachments": [
            Attachment("img.png", payload[:1_500_000], "image/png", inline=True, content_id="img1"),
            Attachment("data.bin", payload, "application/octet-stream"),
            Attachment("note.txt", b"small\n", "text/plain"),
        ],
    },
    "text only, two large attachments": lambda payload: {
        "html": None,
        "attachments": [
            Attachment("a.bin", payload, "application/octet-stream"),
            Attachment("b.bin", payload[: 1_048_577 + 57], "application/octet-stream"),
        ],
    },
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_large_render_is_chunked_and_byte_identical_to_one_piece(
    payload: bytes, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    message = large_message(payload, **LAYOUTS[layout](payload))
    # Same boundaries both times, so the two renders can be compared byte for byte.
    monkeypatch.setattr(_mime, "os", SimpleNamespace(urandom=lambda n: b"\x5a" * n))
    fixed: dict[str, Any] = {
        "message_id": "<fixed@example.com>",
        "date": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    }
    chunked = render(message, **fixed)
    monkeypatch.setattr(_mime, "_LARGE", SIZE * 2)  # everything takes the one-piece path
    whole = render(message, **fixed)

    assert len(whole.chunks) == 1
    assert len(chunked.chunks) > 4
    assert max(map(len, chunked.chunks)) < 2_000_000  # no chunk holds the attachment
    assert chunked.size == whole.size == len(whole.data)
    assert chunked.data == whole.data


def test_small_message_stays_one_piece() -> None:
    rendered = render(
        Message(sender="a@example.com", to="b@example.com", subject="s", text="t", html="<p>h</p>")
    )
    assert len(rendered.chunks) == 1
    assert rendered.data is rendered.chunks[0]


# -- SMTP ----------------------------------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sent.append(data)


_pieces = st.lists(
    st.lists(st.sampled_from([b".", b"\r\n", b"a", b"\n", b"\r"]), max_size=10).map(b"".join),
    max_size=12,
)


@given(_pieces, st.booleans())
def test_chunked_dot_stuffing_equals_whole_message_stuffing(
    pieces: list[bytes], crlf_end: bool
) -> None:
    """However a message is cut into chunks, what goes out equals the one-piece writer's
    ``stuff(message) + b".\\r\\n"``."""
    if crlf_end:
        pieces = [*pieces, b"\r\n"]
    whole = b"".join(pieces)
    recorder = _Recorder()
    _send_chunks(recorder, tuple(pieces))  # type: ignore[arg-type]
    expected = _LEADING_DOT.sub(b"..", whole)
    if whole.endswith(b"\n") or not whole:
        expected += b".\r\n"
    else:
        expected += b"\r\n.\r\n"
    assert b"".join(recorder.sent) == expected


def test_dot_at_a_chunk_start_is_doubled_only_at_a_line_start() -> None:
    recorder = _Recorder()
    _send_chunks(recorder, (b".a\r\n", b".b", b".c\r\n", b"..\r\n"))  # type: ignore[arg-type]
    assert b"".join(recorder.sent) == b"..a\r\n..b.c\r\n...\r\n.\r\n"


def _smtp_send(transport: SMTPTransport, message: Message, mode: str) -> str | None:
    if mode == "sync":
        return transport.send(message).message_id

    async def run() -> str | None:
        try:
            return (await transport.asend(message)).message_id
        finally:
            await transport.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_smtp_large_attachment_arrives_intact(
    smtp_plain: SMTPServer,  # noqa: F811 - fixture
    payload: bytes,
    mode: str,
) -> None:
    message = large_message(payload)
    assert len(render(message).chunks) > 1  # the chunked DATA path is the one under test
    transport = SMTPTransport(smtp_plain.host, smtp_plain.port, security="none", timeout=10)
    try:
        message_id = _smtp_send(transport, message, mode)
    finally:
        transport.close()

    [received] = smtp_plain.recorder.messages
    assert received.rcpt_tos == ["bob@example.com"]
    assert f"SIZE={len(received.data)}" in received.mail_options
    parsed = received.parsed()
    assert parsed["Message-ID"] == message_id
    body = parsed.get_body(("plain",))
    assert body is not None
    # un-stuffed by the server: every dot as written
    assert body.get_content().replace("\r\n", "\n") == DOTTED_TEXT
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "data.bin"
    assert attachment.get_content() == payload
    assert all(len(line) <= 998 for line in received.data.split(b"\r\n"))


def test_smtp_connection_lost_during_a_chunked_body_is_ambiguous(
    smtp_plain: SMTPServer,  # noqa: F811 - fixture
    payload: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same contract as the one-piece path: once body bytes went out, a dropped connection
    is a TransientError with ambiguous=True, and it is not retried on a new connection."""
    transport = SMTPTransport(smtp_plain.host, smtp_plain.port, security="none", timeout=10)
    real_send = smtplib.SMTP.send
    calls = {"body": 0}

    def flaky_send(self: smtplib.SMTP, data: Any) -> None:
        if isinstance(data, bytes) and len(data) > 100_000:
            calls["body"] += 1
            if calls["body"] == 2:  # the second large chunk
                self.close()
                raise smtplib.SMTPServerDisconnected("connection lost")
        real_send(self, data)

    monkeypatch.setattr(smtplib.SMTP, "send", flaky_send)
    try:
        with pytest.raises(TransientError) as caught:
            transport.send(large_message(payload))
    finally:
        transport.close()
    error = caught.value
    assert error.ambiguous is True
    assert "may have been delivered" in str(error)
    assert calls["body"] == 2  # not retried
    assert smtp_plain.recorder.messages == []


# -- HTTP: the JSON body -------------------------------------------------------------

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8"), max_size=30),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200)
@given(_json)
def test_json_body_is_byte_identical_to_httpx_json(document: Any) -> None:
    """With tiny thresholds every string of a few characters is streamed in slices of 3:
    escapes, non-ASCII and slice boundaries all land in the middle of a slice somewhere."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_json_body, "STREAM_STRING_CHARS", 4)
        patch.setattr(_json_body, "_SLICE_CHARS", 3)
        body = JsonBody(document)
        data = b"".join(body)
    expected = compact_json(document)
    assert data == expected
    assert body.length == len(expected)
    assert b"".join(body) == expected  # may be iterated again (for an error's read-back)


def test_json_body_long_strings_plain_and_escaped() -> None:
    long_plain = "QUJD" * 100_000  # base64-like: written as it is
    long_escaped = ('a"b\\c\n\t\x01ü€😀' * 40_000)[:400_000]
    document = {"a": [{"content": long_plain, "n": 1}], "b": long_escaped, "c": "short"}
    body = JsonBody(document)
    chunks = list(body)
    assert b"".join(chunks) == compact_json(document)
    assert body.length == len(compact_json(document))
    assert max(map(len, chunks)) < 4 * (1 << 20)  # written a slice at a time
    assert body.headers() == {
        "Content-Type": "application/json",
        "Content-Length": str(body.length),
    }


# -- HTTP: through the transports ----------------------------------------------------

PROVIDERS: dict[str, tuple[Callable[..., HttpTransport], str, httpx.Response]] = {
    "sendgrid": (
        lambda **kw: SendGridTransport(api_key="SG.key", **kw),
        "https://api.sendgrid.com/v3/mail/send",
        httpx.Response(202, headers={"X-Message-Id": "sg-1"}),
    ),
    "postmark": (
        lambda **kw: PostmarkTransport(server_token="pm-token", **kw),
        "https://api.postmarkapp.com/email",
        httpx.Response(200, json={"To": "bob@example.com", "MessageID": "pm-1", "ErrorCode": 0}),
    ),
}


def _send(transport: HttpTransport, message: Message, mode: str) -> str | None:
    if mode == "sync":
        return transport.send(message).message_id

    async def run() -> str | None:
        try:
            return (await transport.asend(message)).message_id
        finally:
            await transport.aclose()

    return asyncio.run(run())


@pytest.fixture
def clients() -> Iterator[dict[str, Any]]:
    """Plain httpx clients, which respx intercepts whatever transport unisend would pick."""
    sync = httpx.Client()
    yield {"client": sync, "async_client": httpx.AsyncClient()}
    sync.close()


@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch) -> list[JsonBody]:
    """Every JsonBody built (so a test can tell the streamed path was taken)."""
    made: list[JsonBody] = []

    class Spy(JsonBody):
        def __init__(self, document: Any) -> None:
            super().__init__(document)
            made.append(self)

    monkeypatch.setattr(_http, "JsonBody", Spy)
    return made


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_large_http_body_equals_the_small_path_json(
    provider: str,
    mode: str,
    payload: bytes,
    clients: dict[str, Any],
    streamed: list[JsonBody],
) -> None:
    factory, url, reply = PROVIDERS[provider]
    transport = factory(**clients)
    message = large_message(payload)
    document = transport._build_request(message).json
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(url).mock(return_value=reply)
        message_id = _send(transport, message, mode)
    transport.close()
    assert message_id in ("sg-1", "pm-1")
    assert len(streamed) == 1
    request = route.calls.last.request
    assert request.content == compact_json(document)  # the bytes json= would send
    assert json.loads(request.content) == document
    assert request.headers["content-length"] == str(len(request.content))
    assert request.headers["content-type"] == "application/json"
    assert "transfer-encoding" not in request.headers
    sent = json.loads(request.content)
    attachments = sent.get("attachments") or sent.get("Attachments")
    assert attachments is not None
    [attachment] = attachments
    assert base64.b64decode(attachment.get("content") or attachment.get("Content")) == payload


def test_small_http_body_takes_the_json_path(
    clients: dict[str, Any], streamed: list[JsonBody]
) -> None:
    transport = SendGridTransport(api_key="SG.key", **clients)
    message = large_message(b"small attachment")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("https://api.sendgrid.com/v3/mail/send").mock(
            return_value=httpx.Response(202, headers={"X-Message-Id": "sg-1"})
        )
        transport.send(message)
    transport.close()
    assert streamed == []
    assert route.calls.last.request.content == compact_json(transport._build_request(message).json)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_large_http_error_still_names_the_refused_recipient(
    mode: str, payload: bytes, clients: dict[str, Any], streamed: list[JsonBody]
) -> None:
    """Error parsers read the JSON that was sent (request_json); a streamed body is read
    back for them when the answer is an error."""
    transport = SendGridTransport(api_key="SG.key", **clients)
    refusal = httpx.Response(
        400,
        json={"errors": [{"message": "Invalid email", "field": "personalizations.0.to.0.email"}]},
    )
    with respx.mock(assert_all_called=True) as mock:
        mock.post("https://api.sendgrid.com/v3/mail/send").mock(return_value=refusal)
        with pytest.raises(MessageRejected) as caught:
            _send(transport, large_message(payload), mode)
    transport.close()
    assert len(streamed) == 1
    assert caught.value.rejected == {"bob@example.com": "Invalid email"}


def test_read_back_gives_the_document(payload: bytes, clients: dict[str, Any]) -> None:
    transport = SendGridTransport(api_key="SG.key", **clients)
    request = ApiRequest(path="/v3/mail/send", json={"a": payload.hex()[:600_000]})
    with respx.mock(assert_all_called=True) as mock:
        mock.post("https://api.sendgrid.com/v3/mail/send").mock(return_value=httpx.Response(500))
        response = transport._post(request)
    transport.close()
    assert request_json(response) == request.json


# -- HTTP: against the loopback stub, on the transports unisend picks ----------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_large_http_body_through_the_stub(
    stub: HttpStub,  # noqa: F811 - fixture
    payload: bytes,
    mode: str,
    streamed: list[JsonBody],
) -> None:
    """The stub answers 400 to a body that is not JSON: a 202 means the streamed body
    arrived whole (Content-Length honoured, no chunking mix-up), on the default sync
    and async transports (aiohttp when installed)."""
    transport = SendGridTransport(api_key="SG.key", base_url=stub.url, timeout=30)
    message = large_message(payload)
    expected = len(compact_json(transport._build_request(message).json))
    message_id = _send(transport, message, mode)
    transport.close()
    assert message_id is not None and message_id.startswith("stub-sg-")
    stats = stub.stats()
    assert stats["by_route"] == {"sendgrid": 1}
    assert stats["bad_json"] == 0
    assert stats["bytes_in"] > expected
    assert [body.length for body in streamed] == [expected]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_large_http_failure_through_the_stub_is_classified(
    stub: HttpStub,  # noqa: F811 - fixture
    payload: bytes,
    mode: str,
    streamed: list[JsonBody],
) -> None:
    """An error answer to a streamed body: the body is read back for the error parsers
    (after aiohttp or urllib3/httpcore consumed it) and the error is classified as usual."""
    transport = SendGridTransport(api_key="SG.key", base_url=stub.fault_url(500), timeout=30)
    with pytest.raises(TransientError) as caught:
        _send(transport, large_message(payload), mode)
    transport.close()
    assert caught.value.status_code == 500
    assert len(streamed) == 1
    assert stub.stats()["faults"] == {"500": 1}
