"""SendGridTransport: request mapping (providers.md §7 vector, OpenAPI schema, SendGrid's
own SDK), response parsing, error mapping, URL forms, and the loopback stub."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import jsonschema
import pytest
import respx
from sendgrid.helpers.mail import (
    Asm,
    Bcc,
    Category,
    Cc,
    ContentId,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Header,
    Mail,
    MailSettings,
    ReplyTo,
    SandBoxMode,
    SendAt,
    To,
)
from sendgrid.helpers.mail import (
    Attachment as SgAttachment,
)

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
from unisend.transports import SendGridTransport

KEY = "SG.test-key-7f3a9c1e"
URL = "https://api.sendgrid.com/v3/mail/send"

# providers.md §7, SendGrid body, verbatim.
VECTOR_BODY = {
    "personalizations": [
        {
            "to": [{"email": "alice@example.com", "name": "Alice Example"}, {"email": "bob@example.com"}],  # noqa: E501
            "cc": [{"email": "carol@example.com", "name": "Carol"}],
            "bcc": [{"email": "dave@example.com"}],
        }
    ],
    "from": {"email": "no-reply@acme.example", "name": "Acme Support"},
    "reply_to": {"email": "help@acme.example", "name": "Help Desk"},
    "subject": "Your order #1234 — confirmée ✓",
    "content": [
        {"type": "text/plain", "value": "Hello Alice,\nYour order has shipped."},
        {"type": "text/html", "value": "<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>"},
    ],
    "attachments": [{"content": "SW52b2ljZSAxMjM0Cg==", "type": "text/plain", "filename": "invoice.txt", "disposition": "attachment"}],  # noqa: E501
    "headers": {"X-Order-Id": "1234"},
    "categories": ["order-confirmation"],
    "custom_args": {"order_id": "1234"},
}  # fmt: skip


def sent_body(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


# ---------------------------------------------------------------- the request


def test_vector_request_is_exact(via: Any, vector: Message) -> None:
    reply = httpx.Response(202, headers={"X-Message-Id": "fwd-Qm3H0wqT1Z"})
    transport = SendGridTransport(api_key=KEY)
    body, result = via.post(transport, vector, URL, reply, {"authorization": f"Bearer {KEY}"})
    assert body == VECTOR_BODY
    assert result == SendResult(message_id="fwd-Qm3H0wqT1Z", transport="sendgrid")


def test_vector_body_matches_the_official_sdk(vector: Message) -> None:
    mail = Mail(
        from_email=From("no-reply@acme.example", "Acme Support"),
        to_emails=[To("alice@example.com", "Alice Example"), To("bob@example.com")],
        subject="Your order #1234 — confirmée ✓",
        plain_text_content="Hello Alice,\nYour order has shipped.",
        html_content="<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
    )
    mail.add_cc(Cc("carol@example.com", "Carol"))
    mail.add_bcc(Bcc("dave@example.com"))
    mail.reply_to = ReplyTo("help@acme.example", "Help Desk")
    mail.attachment = SgAttachment(
        FileContent("SW52b2ljZSAxMjM0Cg=="),
        FileName("invoice.txt"),
        FileType("text/plain"),
        Disposition("attachment"),
    )
    mail.header = Header("X-Order-Id", "1234")
    mail.category = Category("order-confirmation")
    mail.custom_arg = CustomArg("order_id", "1234")
    assert SendGridTransport(api_key=KEY).payload(vector) == mail.get() == VECTOR_BODY


def test_features_match_the_official_sdk() -> None:
    """Inline image, send_at, dynamic template, sandbox and provider_options, one message."""
    when = datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)
    message = Message(
        sender="Shop <shop@acme.example>",
        to="Zoë Doe <zoe@example.com>",
        subject="Logo",
        html='<img src="cid:logo">',
        attachments=[Attachment("logo.png", b"\x89PNG...", "image/png", True, "logo")],
        send_at=when,
        template_id="d-0123456789abcdef",
        template_data={"name": "Zoë", "items": [{"sku": 1}]},
        provider_options={"sendgrid": {"asm": {"group_id": 42}}},
    )
    mail = Mail(
        from_email=From("shop@acme.example", "Shop"),
        to_emails=To("zoe@example.com", "Zoë Doe"),
        subject="Logo",
        html_content='<img src="cid:logo">',
    )
    mail.attachment = SgAttachment(
        FileContent("iVBORy4uLg=="),
        FileName("logo.png"),
        FileType("image/png"),
        Disposition("inline"),
        ContentId("logo"),
    )
    mail.send_at = SendAt(int(when.timestamp()))
    mail.template_id = "d-0123456789abcdef"
    mail.dynamic_template_data = {"name": "Zoë", "items": [{"sku": 1}]}
    mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
    mail.asm = Asm(42)
    assert SendGridTransport(api_key=KEY, sandbox=True).payload(message) == mail.get()


def test_vector_is_valid_against_the_openapi_schema(
    vector: Message, sendgrid_schema: Callable[..., jsonschema.Draft202012Validator]
) -> None:
    body = SendGridTransport(api_key=KEY).payload(vector)
    sendgrid_schema().validate(body)
    # Unpatched, the spec rejects exactly the message-level custom_args object (spec bug).
    errors = list(sendgrid_schema(patch_custom_args=False).iter_errors(body))
    assert [list(e.absolute_path) for e in errors] == [["custom_args"]]


@pytest.mark.parametrize(
    "overrides",
    [
        {"template_id": "d-abc", "template_data": {"n": 1}, "text": None, "html": None},
        {"template_id": "legacy-1", "template_data": {"-name-": "Ann"}},
        {"reply_to": ["a@acme.example", "B <b@acme.example>"], "tags": ["a", "b"]},
        {"send_at": datetime(2030, 1, 1, tzinfo=timezone.utc), "html": None},
        {"attachments": [Attachment("i.png", b"x", "image/png", True, "img1")]},
    ],
    ids=["dynamic-template", "legacy-template", "reply-to-list", "send-at", "inline"],
)
def test_feature_bodies_are_valid_against_the_openapi_schema(
    overrides: dict[str, Any],
    vector_factory: Callable[..., Message],
    sendgrid_schema: Callable[..., jsonschema.Draft202012Validator],
) -> None:
    body = SendGridTransport(api_key=KEY, sandbox=True).payload(vector_factory(**overrides))
    sendgrid_schema().validate(body)


def test_field_mapping_details(vector_factory: Callable[..., Message]) -> None:
    transport = SendGridTransport(api_key=KEY)
    legacy = transport.payload(
        vector_factory(template_id="legacy-1", template_data={"-name-": "Ann"}, subject="")
    )
    assert legacy["template_id"] == "legacy-1"
    assert legacy["personalizations"][0]["substitutions"] == {"-name-": "Ann"}
    assert "subject" not in legacy  # empty subject: the template's applies
    dynamic = transport.payload(
        vector_factory(template_id="d-1", template_data={"a": [1]}, text=None, html=None)
    )
    assert dynamic["personalizations"][0]["dynamic_template_data"] == {"a": [1]}
    assert "content" not in dynamic
    several = transport.payload(vector_factory(reply_to=["a@acme.example", "b@acme.example"]))
    assert "reply_to" not in several
    assert several["reply_to_list"] == [{"email": "a@acme.example"}, {"email": "b@acme.example"}]
    idn = transport.payload(vector_factory(to="Zoë <zoe@bücher.example>", cc=[], bcc=[]))
    assert idn["personalizations"][0] == {
        "to": [{"email": "zoe@xn--bcher-kva.example", "name": "Zoë"}]
    }
    merged = SendGridTransport(api_key=KEY, sandbox=True).payload(
        vector_factory(
            provider_options={
                "sendgrid": {"mail_settings": {"footer": {"enable": False}}, "ip_pool_name": "p"},
                "postmark": {"TrackOpens": True},
            }
        )
    )
    assert merged["mail_settings"] == {
        "sandbox_mode": {"enable": True},
        "footer": {"enable": False},
    }
    assert merged["ip_pool_name"] == "p"
    assert "TrackOpens" not in merged


def test_what_sendgrid_cannot_carry_raises_before_any_request(
    via: Any, vector_factory: Callable[..., Message]
) -> None:
    message = vector_factory(template_id="legacy-1", template_data={"count": 3})
    text = via.invalid(SendGridTransport(api_key=KEY), message)
    assert re.search(r"sendgrid.*template_data.*'count'", text)
    assert "no sender" in via.invalid(SendGridTransport(api_key=KEY), vector_factory(sender=None))
    # send_many validates every message before the first request.
    assert via.invalid(SendGridTransport(api_key=KEY), [vector_factory(), message])


def test_sandbox_sets_sandbox_mode_and_accepts_200(via: Any, vector: Message) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL).mock(return_value=httpx.Response(200))
        result = via.send(SendGridTransport(api_key=KEY, sandbox=True), vector)
    assert sent_body(route)["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert result.message_id is None and result.transport == "sendgrid"


# ---------------------------------------------------------------- errors


def errors(message: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field, "help": None}]}


UNVERIFIED = (
    "The from address does not match a verified Sender Identity. Mail cannot be sent until "
    "this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/"
    "sender-identity/ to see the Sender Identity requirements"
)

# (status, body, headers, error class, text expected in the error) — bodies from
# providers.md §2 and the ErrorResponse examples of tsg_mail_v3.json.
ERROR_TABLE: list[tuple[int, Any, dict[str, str], type[Exception], str]] = [
    (400, errors("Does not contain a valid address.", "personalizations.0.to.0.email"), {},
     MessageRejected, "(field: personalizations.0.to.0.email)"),
    (400, errors("The personalizations field can have at most 1000 items.", "personalizations"),
     {}, MessageRejected, "at most 1000"),
    (401, errors("The provided authorization grant is invalid, expired, or revoked"), {},
     AuthenticationError, "authorization grant"),
    (401, errors("authorization required", "null"), {}, AuthenticationError,
     "authorization required"),
    (401, errors("Maximum credits exceeded"), {}, ProviderError, "Maximum credits"),
    (403, errors(UNVERIFIED, "from"), {}, ProviderError, "verified Sender Identity"),
    (403, errors("access forbidden", "null"), {}, ProviderError, "access forbidden"),
    (404, errors("not found", "null"), {}, ProviderError, "not found"),
    (413, errors("content too large", "null"), {}, MessageRejected, "content too large"),
    (429, errors("too many requests"), {"Retry-After": "7"}, RateLimited, "too many requests"),
    (500, errors("internal server error"), {}, TransientError, "internal server error"),
    (503, "<html>Service Unavailable</html>", {}, TransientError, "Service Unavailable"),
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
    transport = SendGridTransport(api_key=KEY, name="sg-eu")
    error = via.refusal(transport, vector, URL, status, body, headers)
    assert type(error) is cls  # exactly: a quota 401 is not an AuthenticationError
    assert error.status_code == status
    assert error.transport == "sg-eu"
    assert error.provider_code is None  # SendGrid has no error codes
    assert text in str(error)
    assert error.retryable is (status >= 500 or status == 429)
    if cls is RateLimited:
        assert error.retry_after == 7.0
    assert KEY not in str(error) and KEY not in repr(error)


def test_refused_recipients_are_named_from_the_field_path(via: Any, vector: Message) -> None:
    body = {
        "errors": [
            {
                "message": "Does not contain a valid address.",
                "field": "personalizations.0.cc.0.email",
            },
            {"message": "Invalid domain.", "field": "personalizations.0.to.1.email"},
            {"message": "Out of range.", "field": "personalizations.3.to.0.email"},
            {"message": "The subject is required.", "field": "subject"},
        ]
    }
    with respx.mock(assert_all_called=False) as mock:
        mock.post(URL).mock(return_value=httpx.Response(400, json=body))
        with pytest.raises(MessageRejected) as caught:
            via.send(SendGridTransport(api_key=KEY), vector)
    assert caught.value.rejected == {
        "carol@example.com": "Does not contain a valid address.",
        "bob@example.com": "Invalid domain.",
    }


def test_rate_limit_reset_header_gives_retry_after(vector: Message) -> None:
    reset = int(time.time()) + 30
    with respx.mock(assert_all_called=False) as mock:
        mock.post(URL).mock(
            return_value=httpx.Response(
                429, json=errors("too many requests"), headers={"X-RateLimit-Reset": str(reset)}
            )
        )
        with pytest.raises(RateLimited) as caught:
            SendGridTransport(api_key=KEY).send(vector)
    assert caught.value.retry_after is not None
    assert 25.0 <= caught.value.retry_after <= 30.0


def test_error_text_never_echoes_the_key(vector: Message) -> None:
    # A provider (or proxy) echoing the credential must not leak it through the error.
    echo = errors(f"bad header Authorization: Bearer {KEY}; key {KEY} revoked")
    with respx.mock(assert_all_called=False) as mock:
        mock.post(URL).mock(return_value=httpx.Response(401, json=echo))
        with pytest.raises(AuthenticationError) as caught:
            SendGridTransport(api_key=KEY).send(vector)
    assert KEY not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.mark.parametrize(
    ("exc", "ambiguous"),
    [(httpx.ConnectError("refused"), False), (httpx.ReadTimeout("slow"), True)],
)
def test_network_failures_are_transient(
    via: Any, vector: Message, exc: Exception, ambiguous: bool
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(URL).mock(side_effect=exc)
        with pytest.raises(TransientError) as caught:
            via.send(SendGridTransport(api_key=KEY), vector)
    assert caught.value.ambiguous is ambiguous
    assert caught.value.retryable
    assert KEY not in str(caught.value)


# ---------------------------------------------------------------- configuration


def test_construction_checks_the_key_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError, match="api_key"):
        SendGridTransport(api_key="")
    with pytest.raises(ConfigurationError, match="api_key") as caught:
        SendGridTransport(api_key="SG.abc\r\nX-Evil: 1")
    assert "SG.abc" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="api_key contains whitespace") as caught:
        SendGridTransport(api_key="SG.abc def")
    assert "SG.abc" not in str(caught.value)
    with pytest.raises(TypeError):
        SendGridTransport()  # type: ignore[call-arg]


def test_repr_and_logs_hide_the_key(vector: Message, caplog: pytest.LogCaptureFixture) -> None:
    transport = SendGridTransport(api_key=KEY)
    assert KEY not in repr(transport) and KEY not in str(transport)
    assert (
        repr(transport) == "<SendGridTransport name='sendgrid' base_url='https://api.sendgrid.com'>"
    )
    caplog.set_level(logging.DEBUG)
    with respx.mock(assert_all_called=False) as mock:
        mock.post(URL).mock(return_value=httpx.Response(202, headers={"X-Message-Id": "x"}))
        transport.send(vector)
    assert caplog.records  # httpx/httpcore did log the exchange
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    ("url", "base_url", "extra"),
    [
        (f"sendgrid://{KEY}@default", "https://api.sendgrid.com", {}),
        (f"sendgrid://apikey:{KEY}@default", "https://api.sendgrid.com", {}),
        (f"sendgrid://{KEY}@api.eu.sendgrid.com", "https://api.eu.sendgrid.com", {}),
        (f"sendgrid://{KEY}@default?base_url=http://127.0.0.1:8025", "http://127.0.0.1:8025", {}),
        (f"sendgrid://{KEY}@default?sandbox=true&timeout=10&name=sg2", "https://api.sendgrid.com",
         {"sandbox": True, "name": "sg2"}),
    ],
)  # fmt: skip
def test_url_forms(url: str, base_url: str, extra: dict[str, Any]) -> None:
    transport = from_url(url)
    assert isinstance(transport, SendGridTransport)
    assert transport.base_url == base_url
    assert transport._api_key == KEY
    for attribute, value in extra.items():
        assert getattr(transport, attribute) == value
    if "timeout=10" in url:
        assert transport.timeout.read == 10.0


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sendgrid://default", "API key"),
        (f"sendgrid://{KEY}@default?colour=red", "unknown query parameter 'colour'"),
        (f"sendgrid://{KEY}@default?timeout=soon", "timeout"),
        (f"sendgrid://{KEY}@default?api_key=other", "api_key"),
    ],
)
def test_bad_urls_name_the_problem_not_the_key(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        from_url(url)
    assert KEY not in str(caught.value)


# ---------------------------------------------------------------- against the stub


def test_send_and_asend_against_the_stub(stub: Any, via: Any, vector: Message) -> None:
    transport = SendGridTransport(api_key=KEY, base_url=stub.url)
    first = via.send(transport, vector)
    second = via.send(transport, vector)
    transport.close()
    assert first.message_id == "stub-sg-1" and second.message_id == "stub-sg-2"
    stats = stub.stats()
    assert stats["requests"] == 2
    assert stats["by_route"] == {"sendgrid": 2}
    assert stats["messages"] == 2


def test_send_many_keeps_order_against_the_stub(
    stub: Any, via: Any, vector_factory: Callable[..., Message]
) -> None:
    messages = [vector_factory(subject=f"n{i}") for i in range(5)]
    results = via.send_many(SendGridTransport(api_key=KEY, base_url=stub.url), messages)
    assert [r.message_id for r in results] == [f"stub-sg-{i}" for i in range(1, 6)]
    assert stub.stats()["by_route"] == {"sendgrid": 5}  # no batch endpoint: one call each


def test_faults_from_the_stub_map(stub: Any, via: Any, vector: Message) -> None:
    transport = SendGridTransport(api_key=KEY, base_url=stub.fault_url(429))
    with pytest.raises(RateLimited) as caught:
        via.send(transport, vector)
    assert caught.value.retry_after == 1.0
    results = via.send_many(
        SendGridTransport(api_key=KEY, base_url=stub.fault_url(500)), [vector] * 3
    )
    assert [type(r) for r in results] == [TransientError] * 3
    assert stub.stats()["faults"] == {"429": 1, "500": 3}
