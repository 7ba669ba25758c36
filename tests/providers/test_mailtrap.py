"""MailtrapTransport: request mapping (providers.md §7 vector, the OpenAPI schemas, the
official ``mailtrap`` SDK), sending / bulk / sandbox hosts, response parsing, batches,
error mapping, URL forms, and the loopback stub."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import jsonschema
import mailtrap as mt
import pytest
import respx

from unisend import (
    Attachment,
    AuthenticationError,
    ConfigurationError,
    Message,
    MessageRejected,
    ProviderError,
    RateLimited,
    SendResult,
    TransientError,
    from_url,
)
from unisend.transports import MailtrapTransport

TOKEN = "mt-token-5d1e8b2a94c0"
SEND = "https://send.api.mailtrap.io/api/send"
BATCH = "https://send.api.mailtrap.io/api/batch"

# providers.md §7, Mailtrap body, verbatim.
VECTOR_BODY = {
    "from": {"email": "no-reply@acme.example", "name": "Acme Support"},
    "to": [{"email": "alice@example.com", "name": "Alice Example"}, {"email": "bob@example.com"}],
    "cc": [{"email": "carol@example.com", "name": "Carol"}],
    "bcc": [{"email": "dave@example.com"}],
    "reply_to": {"email": "help@acme.example", "name": "Help Desk"},
    "subject": "Your order #1234 — confirmée ✓",
    "text": "Hello Alice,\nYour order has shipped.",
    "html": "<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
    "attachments": [{"content": "SW52b2ljZSAxMjM0Cg==", "filename": "invoice.txt", "type": "text/plain", "disposition": "attachment"}],  # noqa: E501
    "headers": {"X-Order-Id": "1234"},
    "category": "order-confirmation",
    "custom_variables": {"order_id": "1234"},
}  # fmt: skip

FOUR_IDS = [
    "0c7fd939-02cf-11ed-88c2-0a58a9feac02",
    "0c7fd939-02cf-11ed-88c2-0a58a9feac03",
    "0c7fd939-02cf-11ed-88c2-0a58a9feac04",
    "0c7fd939-02cf-11ed-88c2-0a58a9feac05",
]


def ok(ids: list[str]) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "message_ids": ids})


# ---------------------------------------------------------------- the request


@pytest.mark.parametrize(
    ("kwargs", "url"),
    [
        ({}, SEND),
        ({"bulk": True}, "https://bulk.api.mailtrap.io/api/send"),
        (
            {"sandbox": True, "inbox_id": 2812001},
            "https://sandbox.api.mailtrap.io/api/send/2812001",
        ),
    ],
    ids=["sending", "bulk", "sandbox"],
)
def test_vector_request_is_exact(
    via: Any, vector: Message, kwargs: dict[str, Any], url: str
) -> None:
    reply = ok(FOUR_IDS) if not kwargs.get("sandbox") else ok(FOUR_IDS[:1])
    transport = MailtrapTransport(token=TOKEN, **kwargs)
    body, result = via.post(transport, vector, url, reply, {"authorization": f"Bearer {TOKEN}"})
    assert body == VECTOR_BODY
    assert result.message_id == FOUR_IDS[0]
    assert result.transport == "mailtrap"


def test_ids_per_recipient_in_to_cc_bcc_order(vector: Message) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(SEND).mock(return_value=ok(FOUR_IDS))
        result = MailtrapTransport(token=TOKEN).send(vector)
    assert result == SendResult(
        message_id=FOUR_IDS[0],
        transport="mailtrap",
        recipient_ids=dict(
            zip(
                ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"],
                FOUR_IDS,
                strict=True,
            )
        ),
    )
    # The sandbox answers one id for all recipients: no per-recipient map then.
    with respx.mock(assert_all_called=False) as mock:
        mock.post("https://sandbox.api.mailtrap.io/api/send/7").mock(return_value=ok(["only"]))
        sandboxed = MailtrapTransport(token=TOKEN, sandbox=True, inbox_id="7").send(vector)
    assert sandboxed == SendResult(message_id="only", transport="mailtrap")


def sdk_vector() -> mt.Mail:
    return mt.Mail(
        sender=mt.Address(email="no-reply@acme.example", name="Acme Support"),
        to=[mt.Address(email="alice@example.com", name="Alice Example"), mt.Address(email="bob@example.com")],  # noqa: E501
        cc=[mt.Address(email="carol@example.com", name="Carol")],
        bcc=[mt.Address(email="dave@example.com")],
        reply_to=mt.Address(email="help@acme.example", name="Help Desk"),
        subject="Your order #1234 — confirmée ✓",
        text="Hello Alice,\nYour order has shipped.",
        html="<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
        attachments=[
            mt.Attachment(
                content=base64.b64encode(b"Invoice 1234\n"),
                filename="invoice.txt",
                disposition=mt.Disposition.ATTACHMENT,
                mimetype="text/plain",
            )
        ],
        headers={"X-Order-Id": "1234"},
        custom_variables={"order_id": "1234"},
        category="order-confirmation",
    )  # fmt: skip


def test_vector_body_matches_the_official_sdk(vector: Message) -> None:
    assert MailtrapTransport(token=TOKEN).payload(vector) == sdk_vector().api_data == VECTOR_BODY


def test_template_and_inline_match_the_official_sdk() -> None:
    message = Message(
        sender="Shop <shop@acme.example>",
        to="Zoë <zoe@example.com>",
        template_id="5d1e8b2a-0000-4000-8000-94c0aa11bb22",
        template_data={"user": {"name": "Zoë"}, "count": 2},
        attachments=[Attachment("logo.png", b"\x89PNG", "image/png", True, "logo")],
        metadata={"k": "v"},
    )
    sdk = mt.MailFromTemplate(
        sender=mt.Address(email="shop@acme.example", name="Shop"),
        to=[mt.Address(email="zoe@example.com", name="Zoë")],
        template_uuid="5d1e8b2a-0000-4000-8000-94c0aa11bb22",
        template_variables={"user": {"name": "Zoë"}, "count": 2},
        attachments=[
            mt.Attachment(
                content=base64.b64encode(b"\x89PNG"),
                filename="logo.png",
                disposition=mt.Disposition.INLINE,
                mimetype="image/png",
                content_id="logo",
            )
        ],
        custom_variables={"k": "v"},
    )
    assert MailtrapTransport(token=TOKEN).payload(message) == sdk.api_data


@pytest.mark.parametrize("file", ["transactional", "bulk", "sandbox"])
def test_bodies_are_valid_against_the_openapi_schemas(
    file: str,
    vector_factory: Callable[..., Message],
    mailtrap_schema: Callable[[str, str], jsonschema.Draft202012Validator],
) -> None:
    name = {
        "transactional": "email-sending-transactional.openapi.yml",
        "bulk": "email-sending-bulk.openapi.yml",
        "sandbox": "sandbox-sending.openapi.yml",
    }[file]
    transport = MailtrapTransport(token=TOKEN)
    mailtrap_schema(name, "EmailWithTextAndHtml").validate(transport.payload(vector_factory()))
    mailtrap_schema(name, "EmailWithText").validate(
        transport.payload(vector_factory(html=None, reply_to=["a@acme.example", "b@acme.example"]))
    )
    template = vector_factory(
        template_id="b81aabcd-1a1e-41cf-91b6-eca0254b3d96",
        template_data={"a": 1},
        subject="",
        text=None,
        html=None,
        tags=[],
    )
    mailtrap_schema(name, "EmailFromTemplate").validate(transport.payload(template))
    batch = transport._build_batch([vector_factory(), template]).json
    mailtrap_schema(name, "BatchEmail").validate(batch)
    # The validators do bite: a wrongly typed field fails.
    with pytest.raises(jsonschema.ValidationError):
        mailtrap_schema(name, "EmailWithTextAndHtml").validate({**VECTOR_BODY, "category": 7})


def test_field_mapping_details(vector_factory: Callable[..., Message]) -> None:
    transport = MailtrapTransport(token=TOKEN)
    several = transport.payload(
        vector_factory(reply_to=["A <a@acme.example>", "b@acme.example"], tags=[])
    )
    assert "reply_to" not in several and "category" not in several
    assert several["headers"] == {
        "X-Order-Id": "1234",
        "Reply-To": "A <a@acme.example>, b@acme.example",
    }
    idn = transport.payload(vector_factory(to="zoe@bücher.example", cc=[], bcc=[]))
    assert idn["to"] == [{"email": "zoe@xn--bcher-kva.example"}]
    merged = transport.payload(
        vector_factory(
            provider_options={"mailtrap": {"headers": {"X-Extra": "1"}}, "brevo": {"x": 1}}
        )
    )
    assert merged["headers"] == {"X-Order-Id": "1234", "X-Extra": "1"}
    assert "x" not in merged


UNSUPPORTED = [
    ({"send_at": datetime(2030, 1, 1, tzinfo=timezone.utc)}, "send_at"),
    ({"tags": ["a", "b"]}, "more than one tag"),
    ({"template_id": "t", "subject": "", "text": None, "html": None}, r"tags \(category\)"),
    ({"template_id": "t", "text": None, "html": None, "tags": []}, "subject"),
    ({"template_id": "t", "subject": "", "html": None, "tags": []}, "text"),
    ({"sender": None}, "no sender"),
]


@pytest.mark.parametrize(("overrides", "field"), UNSUPPORTED)
def test_what_mailtrap_cannot_carry_raises_before_any_request(
    via: Any, vector_factory: Callable[..., Message], overrides: dict[str, Any], field: str
) -> None:
    message = vector_factory(**overrides)
    assert re.search(rf"mailtrap.*{field}", via.invalid(MailtrapTransport(token=TOKEN), message))
    many = via.invalid(MailtrapTransport(token=TOKEN), [vector_factory(), message])
    assert re.search(field, many)


# ---------------------------------------------------------------- batches


def batch_answer(request: httpx.Request, fail: frozenset[int] = frozenset()) -> httpx.Response:
    items = json.loads(request.content)["requests"]
    responses = [
        {"success": False, "errors": ["'to' address is invalid"]}
        if index in fail
        else {"success": True, "message_ids": [f"id-{item['subject']}"]}
        for index, item in enumerate(items)
    ]
    return httpx.Response(200, json={"success": not fail, "responses": responses})


def test_batch_results_in_order_with_failures_in_place(
    via: Any, vector_factory: Callable[..., Message]
) -> None:
    messages = [vector_factory(subject=f"s{i}", cc=[], bcc=[]) for i in range(3)]
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(BATCH).mock(side_effect=lambda r: batch_answer(r, frozenset({1})))
        results = via.send_many(MailtrapTransport(token=TOKEN), messages)
    assert route.call_count == 1
    body = json.loads(route.calls.last.request.content)
    assert body["base"] == {}
    assert body["requests"] == [MailtrapTransport(token=TOKEN).payload(m) for m in messages]
    assert [type(r) for r in results] == [SendResult, MessageRejected, SendResult]
    assert results[0].message_id == "id-s0" and results[2].message_id == "id-s2"
    assert "'to' address is invalid" in str(results[1])
    assert results[1].transport == "mailtrap"


def test_batches_are_chunked_at_500(via: Any, vector_factory: Callable[..., Message]) -> None:
    messages = [vector_factory(subject=f"m{i}", cc=[], bcc=[], attachments=[]) for i in range(1001)]
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(BATCH).mock(side_effect=batch_answer)
        results = via.send_many(MailtrapTransport(token=TOKEN), messages)
    sizes = [len(json.loads(call.request.content)["requests"]) for call in route.calls]
    assert sizes == [500, 500, 1]
    assert [r.message_id for r in results] == [f"id-m{i}" for i in range(1001)]


def test_sandbox_batch_uses_the_inbox_path(
    via: Any, vector_factory: Callable[..., Message]
) -> None:
    url = "https://sandbox.api.mailtrap.io/api/batch/99"
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(url).mock(side_effect=batch_answer)
        results = via.send_many(
            MailtrapTransport(token=TOKEN, sandbox=True, inbox_id=99), [vector_factory(subject="x")]
        )
    assert route.call_count == 1
    assert results[0].message_id == "id-x"


@pytest.mark.parametrize(
    ("response", "cls", "ambiguous"),
    [
        (httpx.Response(401, json={"success": False, "errors": ["Unauthorized"]}), AuthenticationError, False),  # noqa: E501
        (httpx.Response(200, json={"success": True, "responses": []}), TransientError, True),
        (httpx.Response(200, text="<html>gateway</html>"), TransientError, True),
    ],
    ids=["401", "too-few-results", "not-json"],
)  # fmt: skip
def test_a_failed_batch_reports_every_message(
    via: Any,
    vector_factory: Callable[..., Message],
    response: httpx.Response,
    cls: type[Exception],
    ambiguous: bool,
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(BATCH).mock(return_value=response)
        results = via.send_many(MailtrapTransport(token=TOKEN), [vector_factory()] * 2)
    assert [type(r) for r in results] == [cls, cls]
    assert all(r.ambiguous is ambiguous for r in results)  # type: ignore[union-attr]


# ---------------------------------------------------------------- errors


def failure(*errors: str) -> dict[str, Any]:
    return {"success": False, "errors": list(errors)}


# (status, body, headers, error class, text in the error) — bodies from the Mailtrap
# OpenAPI files (responses of /api/send and /api/send/{inbox_id}) and providers.md §1.
ERROR_TABLE: list[tuple[int, Any, dict[str, str], type[Exception], str]] = [
    (400, failure("'from' is required", "'subject' is required"), {}, MessageRejected,
     "'from' is required; 'subject' is required"),
    (400, failure("'from' address is invalid"), {}, MessageRejected, "address is invalid"),
    (401, failure("Unauthorized"), {}, AuthenticationError, "Unauthorized"),
    (403, failure("Forbidden"), {}, ProviderError, "Forbidden"),
    (403, failure("Sending domain not verified"), {}, ProviderError, "not verified"),
    (429, failure("Rate limit exceeded"), {"Retry-After": "3"}, RateLimited, "Rate limit"),
    # Sandbox: 429 also means the billing plan's limit is used up (a quota, not throttling).
    (429, failure("Billing plan limit exhausted"), {}, ProviderError, "plan limit"),
    (500, failure("Internal server error"), {}, TransientError, "Internal server error"),
    (502, "<html>Bad Gateway</html>", {}, TransientError, "Bad Gateway"),
    (200, failure("something odd"), {}, ProviderError, "something odd"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "headers", "cls", "text"), ERROR_TABLE)
def test_error_mapping(
    via: Any,
    vector: Message,
    status: int,
    body: Any,
    headers: dict[str, str],
    cls: type[Exception],
    text: str,
) -> None:
    transport = MailtrapTransport(token=TOKEN, name="mt-main")
    error = via.refusal(transport, vector, SEND, status, body, headers)
    assert type(error) is cls
    assert error.status_code == status
    assert error.transport == "mt-main"
    assert text in str(error)
    assert error.retryable is (status >= 500 or cls is RateLimited)
    if cls is RateLimited:
        assert error.retry_after == 3.0
    assert TOKEN not in str(error) and TOKEN not in repr(error)


def test_network_failures_are_transient(via: Any, vector: Message) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(SEND).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(TransientError) as caught:
            via.send(MailtrapTransport(token=TOKEN), vector)
    assert caught.value.ambiguous is True
    assert TOKEN not in str(caught.value)


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"token": ""}, "token"),
        ({"token": "abc\ndef"}, "token"),
        ({"token": "abc def"}, "token contains whitespace"),
        ({"token": TOKEN, "sandbox": True}, "inbox_id"),
        ({"token": TOKEN, "sandbox": True, "inbox_id": "12/../x"}, "inbox_id must be a number"),
        ({"token": TOKEN, "inbox_id": 5}, "only used with sandbox"),
        ({"token": TOKEN, "sandbox": True, "inbox_id": 5, "bulk": True}, "exclude each other"),
    ],
)
def test_bad_construction_is_a_configuration_error(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        MailtrapTransport(**kwargs)
    assert "abc" not in str(caught.value)


def test_repr_and_logs_hide_the_token(vector: Message, caplog: pytest.LogCaptureFixture) -> None:
    transport = MailtrapTransport(token=TOKEN, sandbox=True, inbox_id=42)
    assert repr(transport) == (
        "<MailtrapTransport name='mailtrap' base_url='https://sandbox.api.mailtrap.io' "
        "inbox_id='42'>"
    )
    assert TOKEN not in repr(transport) and TOKEN not in str(transport)
    caplog.set_level(logging.DEBUG)
    with respx.mock(assert_all_called=False) as mock:
        mock.post("https://sandbox.api.mailtrap.io/api/send/42").mock(return_value=ok(["x"]))
        transport.send(vector)
    assert caplog.records
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("url", "base_url", "attributes"),
    [
        (f"mailtrap://{TOKEN}@default", "https://send.api.mailtrap.io", {"sandbox": False}),
        (f"mailtrap://{TOKEN}@default?bulk=true", "https://bulk.api.mailtrap.io", {"bulk": True}),
        (f"mailtrap+sandbox://{TOKEN}@default?inbox_id=123", "https://sandbox.api.mailtrap.io",
         {"sandbox": True, "inbox_id": "123", "name": "mailtrap"}),
        (f"mailtrap://{TOKEN}@default?base_url=http://127.0.0.1:9&timeout=5", "http://127.0.0.1:9",
         {"name": "mailtrap"}),
        (f"mailtrap://{TOKEN}@mt.internal.example:8443", "https://mt.internal.example:8443", {}),
    ],
)  # fmt: skip
def test_url_forms(url: str, base_url: str, attributes: dict[str, Any]) -> None:
    transport = from_url(url)
    assert isinstance(transport, MailtrapTransport)
    assert transport.base_url == base_url
    assert transport._token == TOKEN
    for attribute, value in attributes.items():
        assert getattr(transport, attribute) == value


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mailtrap://default", "API token"),
        (f"mailtrap+sandbox://{TOKEN}@default", "inbox_id"),
        (f"mailtrap+sandbox://{TOKEN}@default?inbox_id=abc", "must be a number"),
        (f"mailtrap://{TOKEN}@default?token=x", "token"),
        (f"mailtrap://{TOKEN}@default?inbox=1", "unknown query parameter 'inbox'"),
    ],
)
def test_bad_urls_name_the_problem_not_the_token(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        from_url(url)
    assert TOKEN not in str(caught.value)


# ---------------------------------------------------------------- against the stub


def test_send_and_asend_against_the_stub(stub: Any, via: Any, vector: Message) -> None:
    transport = MailtrapTransport(token=TOKEN, base_url=stub.url)
    first = via.send(transport, vector)
    second = via.send(transport, vector)
    transport.close()
    assert first.message_id == "00000000-0000-0000-0000-000000000001"
    assert second.message_id == "00000000-0000-0000-0000-000000000002"
    stats = stub.stats()
    assert stats["by_route"] == {"mailtrap": 2}
    assert stats["requests"] == 2


def test_send_many_uses_the_batch_endpoint_of_the_stub(
    stub: Any, via: Any, vector_factory: Callable[..., Message]
) -> None:
    messages = [vector_factory(subject=f"n{i}") for i in range(7)]
    results = via.send_many(MailtrapTransport(token=TOKEN, base_url=stub.url), messages)
    assert [r.message_id for r in results] == [
        f"00000000-0000-0000-0000-{i:012d}" for i in range(1, 8)
    ]
    stats = stub.stats()
    assert stats["by_route"] == {"mailtrap_batch": 1}
    assert stats["messages"] == 7 and stats["too_many"] == 0


def test_faults_from_the_stub_map(stub: Any, via: Any, vector: Message) -> None:
    with pytest.raises(RateLimited) as caught:
        via.send(MailtrapTransport(token=TOKEN, base_url=stub.fault_url(429)), vector)
    assert caught.value.retry_after == 1.0
    with pytest.raises(AuthenticationError):
        via.send(MailtrapTransport(token=TOKEN, base_url=stub.fault_url(401)), vector)
    assert stub.stats()["faults"] == {"429": 1, "401": 1}
