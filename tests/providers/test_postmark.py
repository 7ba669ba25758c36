"""PostmarkTransport: payloads (providers.md §7 vector, postmarker cross-check), error
mapping, batches, configuration and secrecy; with respx and against the HTTP stub."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from email.mime.image import MIMEImage
from typing import Any

import httpx
import pytest
import respx
from postmarker.models.emails import Email, EmailTemplate, prepare_attachments
from servers.http import HttpStub

from unisend import (
    Attachment,
    AuthenticationError,
    ConfigurationError,
    InvalidMessage,
    Message,
    MessageRejected,
    ProviderError,
    RateLimited,
    SendResult,
    TransientError,
    from_url,
)
from unisend.transports.postmark import PostmarkTransport

TOKEN = "pm-server-token-5f2a9c"
URL = "https://api.postmarkapp.com/email"
BATCH_URL = "https://api.postmarkapp.com/email/batch"
OK = {
    "To": "alice@example.com",
    "SubmittedAt": "2024-01-01T00:00:00Z",
    "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
    "ErrorCode": 0,
    "Message": "OK",
}

# providers.md §7, Postmark body, verbatim.
VECTOR: dict[str, Any] = {
    "From": "Acme Support <no-reply@acme.example>",
    "To": "Alice Example <alice@example.com>, bob@example.com",
    "Cc": "Carol <carol@example.com>",
    "Bcc": "dave@example.com",
    "ReplyTo": "Help Desk <help@acme.example>",
    "Subject": "Your order #1234 — confirmée ✓",
    "TextBody": "Hello Alice,\nYour order has shipped.",
    "HtmlBody": "<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
    "Attachments": [
        {"Name": "invoice.txt", "Content": "SW52b2ljZSAxMjM0Cg==", "ContentType": "text/plain"}
    ],
    "Headers": [{"Name": "X-Order-Id", "Value": "1234"}],
    "Tag": "order-confirmation",
    "Metadata": {"order_id": "1234"},
    "MessageStream": "outbound",
}


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def sdk_body(**fields: Any) -> dict[str, Any]:
    """What postmarker's payload builder makes of ``fields`` (its unset fields dropped)."""
    built = Email(manager=None, **fields).as_dict()
    return {k: v for k, v in built.items() if v not in (None, [], {})}


# ---------------------------------------------------------------- the §7 vector


@pytest.mark.parametrize("name", [None, "pm-primary"])
def test_vector_request_is_exact(via: Any, vector: Message, name: str | None) -> None:
    headers = {"X-Postmark-Server-Token": TOKEN, "Accept": "application/json"}
    with PostmarkTransport(server_token=TOKEN, name=name) as transport:
        body, result = via.post(transport, vector, URL, httpx.Response(200, json=OK), headers)
    assert body == VECTOR
    assert result == SendResult(message_id=OK["MessageID"], transport=name or "postmark")


def test_vector_matches_postmarker(vector: Message) -> None:
    built = PostmarkTransport(server_token=TOKEN)._build_request(vector).json
    sdk = sdk_body(
        From="Acme Support <no-reply@acme.example>",
        To="Alice Example <alice@example.com>, bob@example.com",
        Cc="Carol <carol@example.com>",
        Bcc="dave@example.com",
        ReplyTo="Help Desk <help@acme.example>",
        Subject="Your order #1234 — confirmée ✓",
        TextBody="Hello Alice,\nYour order has shipped.",
        HtmlBody="<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
        Attachments=[("invoice.txt", "SW52b2ljZSAxMjM0Cg==", "text/plain")],
        Headers={"X-Order-Id": "1234"},
        Tag="order-confirmation",
        Metadata={"order_id": "1234"},
        MessageStream="outbound",
    )
    assert built == sdk == VECTOR


def test_inline_image_matches_postmarker_cid_form(simple: Callable[..., Message]) -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    message = simple(
        html='<img src="cid:logo">',
        attachments=[Attachment("logo.png", png, "image/png", inline=True, content_id="logo")],
    )
    built = PostmarkTransport(server_token=TOKEN)._build_request(message).json["Attachments"]
    part = MIMEImage(png, "png")
    part.add_header("Content-ID", "<logo>")
    part.add_header("Content-Disposition", "inline", filename="logo.png")
    sdk = prepare_attachments(part)
    sdk["Content"] = "".join(sdk["Content"].split())  # MIME base64 ends with a newline
    assert built == [sdk]
    assert built[0]["ContentID"] == "cid:logo"


def test_template_matches_postmarker() -> None:
    message = Message(
        sender="ann@example.com",
        to="bob@example.com",
        template_id="12345",
        template_data={"name": "Bob", "items": [1, 2]},
    )
    transport = PostmarkTransport(server_token=TOKEN, message_stream="billing")
    request = transport._build_request(message)
    assert request.path == "/email/withTemplate"
    sdk = EmailTemplate(
        manager=None,
        TemplateId=12345,
        TemplateModel={"name": "Bob", "items": [1, 2]},
        From="ann@example.com",
        To="bob@example.com",
        MessageStream="billing",
    ).as_dict()
    sdk = {k: v for k, v in sdk.items() if v not in (None, [], {})}
    assert request.json == sdk
    alias = transport._build_request(message.model_copy(update={"template_id": "welcome"}))
    assert alias.json["TemplateAlias"] == "welcome"
    assert "TemplateId" not in alias.json


def test_provider_options_merge_into_the_body(simple: Callable[..., Message]) -> None:
    message = simple(provider_options={"postmark": {"TrackOpens": True}, "brevo": {"x": 1}})
    body = PostmarkTransport(server_token=TOKEN)._build_request(message).json
    assert body["TrackOpens"] is True
    assert "x" not in body


# ---------------------------------------------------------------- what Postmark cannot carry


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tags": ["a", "b"]}, "a second tag"),
        ({"send_at": datetime(2030, 1, 1, tzinfo=timezone.utc)}, "send_at"),
        ({"template_id": "7", "subject": "x", "text": None}, "subject together with template_id"),
        ({"template_id": "7", "subject": "", "text": "body"}, "text together with template_id"),
    ],
)
def test_unsupported_fields_raise_before_io(
    via: Any, overrides: dict[str, Any], field: str, simple: Callable[..., Message]
) -> None:
    text = via.invalid(PostmarkTransport(server_token=TOKEN), simple(**overrides))
    assert "postmark" in text
    assert field in text


def test_message_without_sender_raises() -> None:
    message = Message(to="bob@example.com", subject="s", text="t")
    with pytest.raises(InvalidMessage, match="sender"):
        PostmarkTransport(server_token=TOKEN)._build_request(message)


# ---------------------------------------------------------------- responses and errors


def test_partly_inactive_recipients_are_reported_on_success(simple: Callable[..., Message]) -> None:
    answer = {
        **OK,
        "Message": "Message OK, but will not deliver to these inactive addresses: "
        "bob@example.com, carol@example.com. Inactive recipients are ones that have "
        "generated a hard bounce or a spam complaint.",
    }
    message = simple(to=["Bob@example.com", "alice@example.com"], cc="carol@example.com")
    with respx.mock() as router:
        router.post(URL).mock(return_value=httpx.Response(200, json=answer))
        result = PostmarkTransport(server_token=TOKEN).send(message)
    assert set(result.rejected) == {"Bob@example.com", "carol@example.com"}
    assert result.message_id == OK["MessageID"]


INACTIVE = (
    "You tried to send to recipient(s) that have been marked as inactive. Found inactive "
    "addresses: user0@example.com. Inactive recipients are ones that have generated a hard "
    "bounce, a spam complaint, or a manual suppression."
)
NO_TOKEN = (
    "No Account or Server API tokens were supplied in the HTTP headers. Please add a header "
    "for either X-Postmark-Server-Token or X-Postmark-Account-Token."
)
NOT_SIGNATURE = (
    "The 'From' address you supplied (ann@example.com) is not a Sender Signature on your "
    "account. Please add and confirm this address in order to be able to use it in the "
    "'From' field of your messages."
)

INVALID_TO = "Invalid 'To' address: 'user0@example'."

ERRORS = [
    # status, ErrorCode, Message (the body is {"ErrorCode", "Message"}; plain text without
    # a code), class, rejected; a 429 carries Retry-After: 7.
    (422, 10, NO_TOKEN, AuthenticationError, {}),
    (401, 10, "Bad token", AuthenticationError, {}),
    (422, 300, INVALID_TO, MessageRejected, {"user0@example": INVALID_TO}),
    (422, 300, NOT_SIGNATURE, ProviderError, {}),
    (422, 400, "Sender signature not found", ProviderError, {}),
    (422, 401, "Sender signature not confirmed", ProviderError, {}),
    (422, 402, "Invalid JSON", MessageRejected, {}),
    (422, 405, "Not allowed to send", ProviderError, {}),
    (422, 406, INACTIVE, MessageRejected, {"user0@example.com": INACTIVE}),
    (422, 411, "Forbidden attachment type", MessageRejected, {}),
    (422, 412, "Account pending approval", ProviderError, {}),
    (422, 100, "Maintenance", TransientError, {}),
    (422, 429, "Rate limit exceeded", RateLimited, {}),
    (429, 429, "Slow down", RateLimited, {}),
    (500, 0, "Internal error", TransientError, {}),
    (503, None, "<html>Service Unavailable</html>", TransientError, {}),
    (403, None, "<html><body>Forbidden by the edge</body></html>", ProviderError, {}),
]


@pytest.mark.parametrize(("status", "code", "text", "cls", "rejected"), ERRORS)
def test_error_mapping(
    via: Any,
    status: int,
    code: int | None,
    text: str,
    cls: type[Exception],
    rejected: dict[str, str],
    simple: Callable[..., Message],
) -> None:
    body = text if code is None else {"ErrorCode": code, "Message": text}
    headers = {"Retry-After": "7"} if status == 429 else {}
    transport = PostmarkTransport(server_token=TOKEN)
    error = via.refusal(transport, simple(), URL, status, body, headers)
    assert type(error) is cls
    assert error.status_code == status
    assert error.provider_code == (None if code is None else str(code))
    assert error.transport == "postmark"
    assert "<html>" not in str(error)
    if isinstance(error, MessageRejected):
        assert error.rejected == rejected
    if status == 429:
        assert isinstance(error, RateLimited)
        assert error.retry_after == 7.0


# ---------------------------------------------------------------- batches


def test_batch_keeps_order_and_reports_per_message_failures(simple: Callable[..., Message]) -> None:
    messages = [simple(0), simple(1), simple(2)]
    answer = [
        {**OK, "MessageID": "id-0"},
        {
            "ErrorCode": 406,
            "Message": INACTIVE.replace("user0", "user1"),
            "To": "user1@example.com",
        },
        {**OK, "MessageID": "id-2"},
    ]
    transport = PostmarkTransport(server_token=TOKEN)
    with respx.mock() as router:
        route = router.post(BATCH_URL).mock(return_value=httpx.Response(200, json=answer))
        results = transport.send_many(messages)
    assert route.call_count == 1
    sent = body_of(route.calls.last.request)
    assert [item["To"] for item in sent] == [f"user{i}@example.com" for i in range(3)]
    assert sent[0] == transport._build_request(messages[0]).json
    assert isinstance(results[0], SendResult) and results[0].message_id == "id-0"
    assert isinstance(results[1], MessageRejected)
    assert results[1].provider_code == "406"
    assert list(results[1].rejected) == ["user1@example.com"]
    assert isinstance(results[2], SendResult) and results[2].message_id == "id-2"


async def test_async_batch_whole_request_failure_reports_every_message(
    simple: Callable[..., Message],
) -> None:
    transport = PostmarkTransport(server_token=TOKEN)
    with respx.mock() as router:
        router.post(BATCH_URL).mock(
            return_value=httpx.Response(422, json={"ErrorCode": 10, "Message": NO_TOKEN})
        )
        results = await transport.asend_many([simple(0), simple(1)])
    assert all(isinstance(r, AuthenticationError) for r in results)
    await transport.aclose()


def test_mixed_template_and_plain_batches_keep_input_order(simple: Callable[..., Message]) -> None:
    template = simple(9, subject="", text=None, template_id="welcome", template_data={"a": 1})
    messages = [simple(0), template, simple(1)]
    with respx.mock() as router:
        plain = router.post(BATCH_URL).mock(
            side_effect=[
                httpx.Response(200, json=[{**OK, "MessageID": "plain-0"}]),
                httpx.Response(200, json=[{**OK, "MessageID": "plain-1"}]),
            ]
        )
        templated = router.post("https://api.postmarkapp.com/email/batchWithTemplates").mock(
            return_value=httpx.Response(200, json=[{**OK, "MessageID": "tmpl"}])
        )
        results = PostmarkTransport(server_token=TOKEN).send_many(messages)
    assert [r.message_id for r in results if isinstance(r, SendResult)] == [
        "plain-0",
        "tmpl",
        "plain-1",
    ]
    assert plain.call_count == 2
    assert body_of(templated.calls.last.request)["Messages"][0]["TemplateAlias"] == "welcome"


def test_invalid_message_in_batch_raises_before_anything_is_sent(
    via: Any, simple: Callable[..., Message]
) -> None:
    messages = [simple(0), simple(1, tags=["a", "b"])]
    assert "second tag" in via.invalid(PostmarkTransport(server_token=TOKEN), messages)


def test_batches_of_500_against_the_stub(stub: HttpStub, simple: Callable[..., Message]) -> None:
    messages = [simple(i) for i in range(1001)]
    with PostmarkTransport(server_token=TOKEN, base_url=stub.url) as transport:
        results = transport.send_many(messages)
    assert len(results) == 1001
    assert all(isinstance(r, SendResult) for r in results)
    ids = [r.message_id for r in results if isinstance(r, SendResult)]
    assert len(set(ids)) == 1001  # each message got its own element back
    stats = stub.stats()
    assert stats["by_route"] == {"postmark_batch": 3}
    assert stats["messages"] == 1001
    assert stats["too_many"] == 0


async def test_send_and_asend_against_the_stub(stub: HttpStub, vector: Message) -> None:
    transport = PostmarkTransport(server_token=TOKEN, base_url=stub.url)
    first = transport.send(vector)
    second = await transport.asend(vector)
    assert first.message_id and second.message_id and first.message_id != second.message_id
    assert stub.stats()["by_route"] == {"postmark": 2}
    transport.close()
    await transport.aclose()


def test_stub_fault_maps_to_rate_limited(stub: HttpStub, simple: Callable[..., Message]) -> None:
    transport = PostmarkTransport(server_token=TOKEN, base_url=stub.fault_url(429))
    with pytest.raises(RateLimited) as caught:
        transport.send(simple())
    assert caught.value.retry_after == 1.0
    assert stub.stats()["faults"] == {"429": 1}


# ---------------------------------------------------------------- sandbox and configuration


def test_sandbox_uses_the_test_token_and_needs_no_server_token(
    simple: Callable[..., Message],
) -> None:
    with respx.mock() as router:
        route = router.post(URL).mock(return_value=httpx.Response(200, json=OK))
        PostmarkTransport(sandbox=True).send(simple())
        PostmarkTransport(server_token=TOKEN, sandbox=True).send(simple())
    for call in route.calls:
        assert call.request.headers["X-Postmark-Server-Token"] == "POSTMARK_API_TEST"


def test_missing_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="server_token"):
        PostmarkTransport()
    with pytest.raises(ConfigurationError, match="server_token") as caught:
        PostmarkTransport(server_token="abc\ndef")
    assert "abc" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="server token"):
        from_url("postmark://@default")


def test_from_url() -> None:
    transport = from_url(
        "postmark://tok%2Fen@default?message_stream=broadcast&timeout=5&base_url=http://127.0.0.1:9"
    )
    assert isinstance(transport, PostmarkTransport)
    assert transport._token == "tok/en"
    assert transport.message_stream == "broadcast"
    assert transport.base_url == "http://127.0.0.1:9"
    assert transport.timeout.read == 5.0
    assert transport.name == "postmark"
    sandbox = from_url("postmark://@default?sandbox=true")
    assert isinstance(sandbox, PostmarkTransport) and sandbox.sandbox
    other_host = from_url("postmark://tok@api.example.net:8443")
    assert isinstance(other_host, PostmarkTransport)
    assert other_host.base_url == "https://api.example.net:8443"
    with pytest.raises(ConfigurationError, match="unknown query parameter") as caught:
        from_url(f"postmark://{TOKEN}@default?stream=x")
    assert TOKEN not in str(caught.value)


def test_secret_never_in_repr_errors_or_logs(
    caplog: pytest.LogCaptureFixture, simple: Callable[..., Message]
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = PostmarkTransport(server_token=TOKEN)
    assert TOKEN not in repr(transport) and TOKEN not in str(transport)
    echo = {"ErrorCode": 10, "Message": f"Token {TOKEN} is not valid"}
    with respx.mock() as router:
        router.post(URL).mock(return_value=httpx.Response(422, json=echo))
        with pytest.raises(AuthenticationError) as caught:
            transport.send(simple())
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert "***" in str(caught.value)
    assert TOKEN not in caplog.text
    assert caplog.records  # httpx did log the request: the check above is meaningful


def test_connection_refused_is_transient_and_not_ambiguous(simple: Callable[..., Message]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = PostmarkTransport(server_token=TOKEN, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientError) as caught:
        transport.send(simple())
    assert not caught.value.ambiguous
    assert TOKEN not in str(caught.value)


def test_batch_answer_of_the_wrong_length_is_ambiguous_for_every_message(
    simple: Callable[..., Message],
) -> None:
    with respx.mock() as router:
        router.post(BATCH_URL).mock(return_value=httpx.Response(200, json=[OK]))
        results = PostmarkTransport(server_token=TOKEN).send_many([simple(0), simple(1)])
    assert all(isinstance(r, TransientError) and r.ambiguous for r in results)


def test_only_ascii_digits_make_a_template_id() -> None:
    message = Message(sender="ann@example.com", to="bob@example.com", template_id="١٢")
    body = PostmarkTransport(server_token=TOKEN)._build_request(message).json
    assert body["TemplateAlias"] == "١٢" and "TemplateId" not in body
    assert body["TemplateModel"] == {}


async def test_async_batches_against_the_stub(
    stub: HttpStub, simple: Callable[..., Message]
) -> None:
    transport = PostmarkTransport(server_token=TOKEN, base_url=stub.url)
    results = await transport.asend_many([simple(i) for i in range(501)])
    assert [isinstance(r, SendResult) for r in results] == [True] * 501
    stats = stub.stats()
    assert stats["by_route"] == {"postmark_batch": 2} and stats["messages"] == 501
    await transport.aclose()


def test_repr_shows_where_not_what() -> None:
    text = repr(PostmarkTransport(server_token=TOKEN, message_stream="broadcast", sandbox=True))
    assert "https://api.postmarkapp.com" in text and "broadcast" in text and "sandbox" in text
    assert TOKEN not in text
