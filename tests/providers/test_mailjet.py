"""MailjetTransport: payloads (providers.md §7 vector, mailjet-rest builders and the
documented v3.1 fields), error mapping, partly failed batches, configuration and secrecy;
with respx and against the HTTP stub."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import respx
from mailjet_rest.builders import MessageBuilder, SendPayloadBuilder
from servers.http import HttpStub

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
from unisend.transports.mailjet import MailjetTransport

KEY, SECRET = "mj-public-key-81c3", "mj-secret-key-9d0e"
BASIC = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
URL = "https://api.mailjet.com/v3.1/send"

# providers.md §7, Mailjet body, verbatim.
VECTOR: dict[str, Any] = {
    "Messages": [
        {
            "From": {"Email": "no-reply@acme.example", "Name": "Acme Support"},
            "To": [
                {"Email": "alice@example.com", "Name": "Alice Example"},
                {"Email": "bob@example.com"},
            ],
            "Cc": [{"Email": "carol@example.com", "Name": "Carol"}],
            "Bcc": [{"Email": "dave@example.com"}],
            "ReplyTo": {"Email": "help@acme.example", "Name": "Help Desk"},
            "Subject": "Your order #1234 — confirmée ✓",
            "TextPart": "Hello Alice,\nYour order has shipped.",
            "HTMLPart": "<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
            "Attachments": [
                {
                    "ContentType": "text/plain",
                    "Filename": "invoice.txt",
                    "Base64Content": "SW52b2ljZSAxMjM0Cg==",
                }
            ],
            "Headers": {"X-Order-Id": "1234"},
            "CustomCampaign": "order-confirmation",
            "EventPayload": '{"order_id": "1234"}',
        }
    ]
}

SUCCESS = {
    "Messages": [
        {
            "Status": "success",
            "CustomID": "",
            "To": [
                {
                    "Email": "alice@example.com",
                    "MessageUUID": "u-1",
                    "MessageID": 5764607546551546,
                },
                {"Email": "bob@example.com", "MessageUUID": "u-2", "MessageID": 5764607546551547},
            ],
            "Cc": [{"Email": "carol@example.com", "MessageUUID": "u-3", "MessageID": 11}],
            "Bcc": [{"Email": "dave@example.com", "MessageUUID": "u-4", "MessageID": 12}],
        }
    ]
}

# The documented Send API v3.1 fields (providers.md §4): nothing else may be sent.
_ADDRESS = {
    "type": "object",
    "properties": {"Email": {"type": "string"}, "Name": {"type": "string"}},
    "required": ["Email"],
    "additionalProperties": False,
}
_FILE = {
    "type": "object",
    "properties": {
        "ContentType": {"type": "string"},
        "Filename": {"type": "string", "minLength": 1},
        "ContentID": {"type": "string"},
        "Base64Content": {"type": "string"},
    },
    "required": ["ContentType", "Filename", "Base64Content"],
    "additionalProperties": False,
}
V31_SCHEMA = {
    "type": "object",
    "properties": {
        "Messages": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "properties": {
                    "From": _ADDRESS,
                    "To": {"type": "array", "items": _ADDRESS, "minItems": 1},
                    "Cc": {"type": "array", "items": _ADDRESS},
                    "Bcc": {"type": "array", "items": _ADDRESS},
                    "ReplyTo": _ADDRESS,
                    "Subject": {"type": "string", "maxLength": 255},
                    "TextPart": {"type": "string"},
                    "HTMLPart": {"type": "string"},
                    "Attachments": {"type": "array", "items": _FILE},
                    "InlinedAttachments": {
                        "type": "array",
                        "items": {**_FILE, "required": [*_FILE["required"], "ContentID"]},
                    },
                    "Headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "CustomCampaign": {"type": "string"},
                    "MonitoringCategory": {"type": "string"},
                    "EventPayload": {"type": "string"},
                    "CustomID": {"type": "string"},
                    "TemplateID": {"type": "integer"},
                    "TemplateLanguage": {"type": "boolean"},
                    "Variables": {"type": "object"},
                    "TrackOpens": {"enum": ["account_default", "disabled", "enabled"]},
                    "TrackClicks": {"enum": ["account_default", "disabled", "enabled"]},
                },
                "required": ["From", "To"],
                "additionalProperties": False,
            },
        },
        "SandboxMode": {"type": "boolean"},
        "Globals": {"type": "object"},
        "AdvanceErrorHandling": {"type": "boolean"},
    },
    "required": ["Messages"],
    "additionalProperties": False,
}


def transport(**kwargs: Any) -> MailjetTransport:
    return MailjetTransport(api_key=KEY, secret_key=SECRET, **kwargs)


def ok_for(*addresses: str, first_id: int = 1000) -> dict[str, Any]:
    return {
        "Status": "success",
        "To": [
            {"Email": a, "MessageUUID": f"u{i}", "MessageID": first_id + i}
            for i, a in enumerate(addresses)
        ],
    }


def failed(code: str, status: int, text: str, related: list[str]) -> dict[str, Any]:
    return {
        "Status": "error",
        "Errors": [
            {
                "ErrorIdentifier": "f987008f-251a-4dff-8ffc-40f1583ad7bc",
                "ErrorCode": code,
                "StatusCode": status,
                "ErrorMessage": text,
                "ErrorRelatedTo": related,
            }
        ],
    }


# ---------------------------------------------------------------- the §7 vector


def test_vector_request_is_exact(via: Any, vector: Message) -> None:
    with transport() as mailjet:
        reply = httpx.Response(200, json=SUCCESS)
        body, result = via.post(mailjet, vector, URL, reply, {"Authorization": BASIC})
    assert body == VECTOR
    assert result.message_id == "5764607546551546"  # the first recipient's, as text
    assert result.recipient_ids == {
        "alice@example.com": "5764607546551546",
        "bob@example.com": "5764607546551547",
        "carol@example.com": "11",
        "dave@example.com": "12",
    }


def test_vector_matches_mailjet_rest_builders(tmp_path: Path, vector: Message) -> None:
    invoice = tmp_path / "invoice.txt"
    invoice.write_bytes(b"Invoice 1234\n")
    builder = (
        MessageBuilder()
        .set_sender("no-reply@acme.example", "Acme Support")
        .add_recipient("alice@example.com", "Alice Example")
        .add_recipient("bob@example.com")
        .add_cc("carol@example.com", "Carol")
        .add_bcc("dave@example.com")
        .set_reply_to("help@acme.example", "Help Desk")
        .set_subject("Your order #1234 — confirmée ✓")
        .set_content(
            text="Hello Alice,\nYour order has shipped.",
            html="<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
        )
        .attach_file(invoice, "text/plain", base_dir=tmp_path)
        .set_headers({"X-Order-Id": "1234"})
    )
    message = builder.build()
    message["CustomCampaign"] = "order-confirmation"  # type: ignore[typeddict-unknown-key]
    message["EventPayload"] = '{"order_id": "1234"}'
    sdk = SendPayloadBuilder().add_message(message).build()
    built = transport()._build_request(vector).json
    assert built == sdk == VECTOR
    jsonschema.validate(built, V31_SCHEMA)


def test_sandbox_template_and_inline_image_payload(simple: Callable[..., Message]) -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    message = simple(
        text=None,
        subject="",
        template_id="4242",
        template_data={"name": "Bob"},
        attachments=[Attachment("logo.png", png, "image/png", inline=True, content_id="logo")],
        provider_options={"mailjet": {"TrackOpens": "disabled", "CustomID": "order-9"}},
    )
    body = transport(sandbox=True)._build_request(message).json
    sdk = (
        SendPayloadBuilder()
        .add_message(
            MessageBuilder()
            .set_sender("ann@example.com")
            .add_recipient("user0@example.com")
            .set_template(4242)
            .set_variables({"name": "Bob"})
            .build()
        )
        .set_sandbox_mode(True)
        .build()
    )
    expected = dict(sdk)
    expected["Messages"] = [
        {
            **sdk["Messages"][0],
            "InlinedAttachments": [
                {
                    "ContentType": "image/png",
                    "Filename": "logo.png",
                    "ContentID": "logo",
                    "Base64Content": base64.b64encode(png).decode(),
                }
            ],
            "TrackOpens": "disabled",
            "CustomID": "order-9",
        }
    ]
    assert body == expected
    assert body["SandboxMode"] is True
    jsonschema.validate(body, V31_SCHEMA)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tags": ["a", "b"]}, "a second tag"),
        ({"send_at": datetime(2030, 1, 1, tzinfo=timezone.utc)}, "send_at"),
        ({"reply_to": ["a@example.com", "b@example.com"]}, "a second reply_to"),
        ({"template_id": "welcome"}, "template_id 'welcome'"),
    ],
)
def test_unsupported_fields_raise_before_io(
    via: Any, overrides: dict[str, Any], field: str, simple: Callable[..., Message]
) -> None:
    text = via.invalid(transport(), simple(**overrides))
    assert "mailjet" in text and field in text


# ---------------------------------------------------------------- errors

AUTH = (
    "API key authentication/authorization failure. You may be unauthorized to access the API "
    "or your API key may be expired. Visit API keys management section to check your keys."
)
INVALID = '"user0@example" is an invalid email address.'
SENDER = '"ann@example.com" is not an authorized sender email address for your account.'

ERRORS = [
    # status, body, headers, class, provider_code, rejected
    (
        401,
        {"ErrorIdentifier": "x", "ErrorCode": "mj-0015", "ErrorMessage": AUTH, "StatusCode": 401},
        {},
        AuthenticationError,
        "mj-0015",
        {},
    ),
    (401, "", {}, AuthenticationError, None, {}),
    (
        401,
        {"ErrorCode": "mj-0001", "ErrorMessage": "API key suspended", "StatusCode": 401},
        {},
        ProviderError,
        "mj-0001",
        {},
    ),
    (
        400,
        {"Messages": [failed("mj-0013", 400, INVALID, ["To[0].Email"])]},
        {},
        MessageRejected,
        "mj-0013",
        {"user0@example.com": INVALID},
    ),
    (
        403,
        {"Messages": [failed("send-0008", 403, SENDER, ["From"])]},
        {},
        ProviderError,
        "send-0008",
        {},
    ),
    (
        400,
        {"Messages": [failed("send-0011", 400, "Header not allowed", ["Headers"])]},
        {},
        MessageRejected,
        "send-0011",
        {},
    ),
    (
        400,
        {"ErrorCode": "mj-0002", "ErrorMessage": "Malformed JSON", "StatusCode": 400},
        {},
        MessageRejected,
        "mj-0002",
        {},
    ),
    (
        400,
        {"ErrorCode": "mj-0008", "ErrorMessage": "Too many elements", "StatusCode": 400},
        {},
        MessageRejected,
        "mj-0008",
        {},
    ),
    (429, {"ErrorMessage": "Too many requests"}, {"Retry-After": "3"}, RateLimited, None, {}),
    (
        500,
        {
            "ErrorIdentifier": "id",
            "ErrorCode": "mj-0004",
            "ErrorMessage": "Internal",
            "StatusCode": 500,
        },
        {},
        TransientError,
        "mj-0004",
        {},
    ),
]


@pytest.mark.parametrize(("status", "body", "headers", "cls", "code", "rejected"), ERRORS)
def test_error_mapping(
    via: Any,
    status: int,
    body: Any,
    headers: dict[str, str],
    cls: type[Exception],
    code: str | None,
    rejected: dict[str, str],
    simple: Callable[..., Message],
) -> None:
    error = via.refusal(transport(), simple(), URL, status, body, headers)
    assert type(error) is cls
    assert error.status_code == status
    assert error.provider_code == code
    if isinstance(error, MessageRejected):
        assert error.rejected == rejected
    if isinstance(error, RateLimited):
        assert error.retry_after == 3.0


# ---------------------------------------------------------------- batches


def test_partly_failed_batch_at_http_400_is_reported_per_message(
    simple: Callable[..., Message],
) -> None:
    messages = [simple(0), simple(1), simple(2)]
    answer = {
        "Messages": [
            ok_for("user0@example.com", first_id=100),
            failed(
                "mj-0013", 400, '"user1@example.com" is an invalid email address.', ["To[0].Email"]
            ),
            ok_for("user2@example.com", first_id=300),
        ]
    }
    with respx.mock() as router:
        route = router.post(URL).mock(return_value=httpx.Response(400, json=answer))
        results = transport().send_many(messages)
    assert route.call_count == 1
    sent = json.loads(route.calls.last.request.content)["Messages"]
    assert [m["To"][0]["Email"] for m in sent] == [f"user{i}@example.com" for i in range(3)]
    assert isinstance(results[0], SendResult) and results[0].message_id == "100"
    assert isinstance(results[1], MessageRejected)
    assert results[1].provider_code == "mj-0013"
    assert list(results[1].rejected) == ["user1@example.com"]
    assert isinstance(results[2], SendResult) and results[2].message_id == "300"


async def test_async_whole_batch_failure_reports_every_message(
    simple: Callable[..., Message],
) -> None:
    body = {"ErrorCode": "mj-0015", "ErrorMessage": AUTH, "StatusCode": 401}
    mailjet = transport()
    with respx.mock() as router:
        router.post(URL).mock(return_value=httpx.Response(401, json=body))
        results = await mailjet.asend_many([simple(0), simple(1)])
    assert [type(r) for r in results] == [AuthenticationError, AuthenticationError]
    await mailjet.aclose()


def test_invalid_message_in_batch_raises_before_anything_is_sent(
    via: Any, simple: Callable[..., Message]
) -> None:
    messages = [simple(0), simple(1, send_at=datetime(2030, 1, 1, tzinfo=timezone.utc))]
    assert "send_at" in via.invalid(transport(), messages)


def test_batches_of_50_against_the_stub(stub: HttpStub, simple: Callable[..., Message]) -> None:
    messages = [simple(i) for i in range(101)]
    with transport(base_url=stub.url) as mailjet:
        results = mailjet.send_many(messages)
    assert all(isinstance(r, SendResult) for r in results)
    ids = [r.message_id for r in results if isinstance(r, SendResult)]
    assert len(set(ids)) == 101
    stats = stub.stats()
    assert stats["by_route"] == {"mailjet": 3}
    assert stats["messages"] == 101
    assert stats["too_many"] == 0


async def test_send_and_asend_against_the_stub(stub: HttpStub, vector: Message) -> None:
    mailjet = transport(base_url=stub.url)
    first = mailjet.send(vector)
    second = await mailjet.asend(vector)
    assert first.message_id and second.message_id and first.message_id != second.message_id
    # the server echoes every recipient with its own id, as Mailjet does
    recipients = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]
    assert list(first.recipient_ids) == recipients
    assert first.recipient_ids["alice@example.com"] == first.message_id
    assert len(set(first.recipient_ids.values()) | set(second.recipient_ids.values())) == 8
    assert stub.stats()["by_route"] == {"mailjet": 2}
    mailjet.close()
    await mailjet.aclose()


# ---------------------------------------------------------------- configuration and secrecy


def test_missing_credentials_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="api_key"):
        MailjetTransport(secret_key=SECRET)
    with pytest.raises(ConfigurationError, match="secret_key") as caught:
        MailjetTransport(api_key=KEY)
    assert KEY not in str(caught.value)
    with pytest.raises(ConfigurationError, match="secret key") as caught:
        from_url(f"mailjet://{KEY}@default")
    assert KEY not in str(caught.value)


def test_from_url() -> None:
    mailjet = from_url(f"mailjet://{KEY}:{SECRET}@default?sandbox=true&timeout=2.5&name=mj2")
    assert isinstance(mailjet, MailjetTransport)
    assert mailjet.sandbox and mailjet.name == "mj2" and mailjet.timeout.read == 2.5
    assert mailjet._auth_headers() == {"Authorization": BASIC}
    local = from_url(f"mailjet://{KEY}:{SECRET}@default?base_url=http://127.0.0.1:1")
    assert isinstance(local, MailjetTransport) and local.base_url == "http://127.0.0.1:1"


def test_secrets_never_in_repr_errors_or_logs(
    caplog: pytest.LogCaptureFixture, simple: Callable[..., Message]
) -> None:
    caplog.set_level(logging.DEBUG)
    mailjet = transport()
    for secret in (KEY, SECRET, BASIC):
        assert secret not in repr(mailjet)
    blob = BASIC.split()[1]
    text = f"bad key {KEY} / {SECRET} (Authorization: Basic {blob})"
    echo = {"ErrorCode": "mj-0015", "ErrorMessage": text, "StatusCode": 401}
    with respx.mock() as router:
        router.post(URL).mock(return_value=httpx.Response(401, json=echo))
        with pytest.raises(AuthenticationError) as caught:
            mailjet.send(simple())
    for secret in (KEY, SECRET, blob):
        assert secret not in str(caught.value)
        assert secret not in caplog.text
    assert caplog.records


def test_batch_failed_at_403_with_per_message_list_is_reported_per_message(
    simple: Callable[..., Message],
) -> None:
    answer = {
        "Messages": [
            failed("send-0008", 403, SENDER, ["From"]),
            failed("mj-0013", 400, INVALID, ["To[0].Email"]),
        ]
    }
    with respx.mock() as router:
        router.post(URL).mock(return_value=httpx.Response(403, json=answer))
        results = transport().send_many([simple(0), simple(1)])
    assert type(results[0]) is ProviderError and results[0].status_code == 403
    assert isinstance(results[1], MessageRejected)
    assert results[1].rejected == {"user1@example.com": INVALID}


def test_unreadable_success_is_an_ambiguous_transient_error(simple: Callable[..., Message]) -> None:
    with respx.mock() as router:
        router.post(URL).mock(return_value=httpx.Response(200, text="<html>ok</html>"))
        with pytest.raises(TransientError) as caught:
            transport().send(simple())
        results = transport().send_many([simple(0), simple(1)])
    assert caught.value.ambiguous
    assert all(isinstance(r, TransientError) and r.ambiguous for r in results)


async def test_async_batches_of_50_against_the_stub(
    stub: HttpStub, simple: Callable[..., Message]
) -> None:
    mailjet = transport(base_url=stub.url, sandbox=True)
    results = await mailjet.asend_many([simple(i) for i in range(60)])
    assert [isinstance(r, SendResult) for r in results] == [True] * 60
    assert stub.stats()["by_route"] == {"mailjet": 2}
    await mailjet.aclose()
