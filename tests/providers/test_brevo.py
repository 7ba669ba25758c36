"""BrevoTransport: payloads (providers.md §7 vector, brevo-python cross-check), error
mapping, no batch endpoint, configuration and secrecy; with respx and against the stub."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx
from brevo import Brevo
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
from unisend._version import __version__
from unisend.transports.brevo import BrevoTransport

KEY = "xkeysib-0123456789abcdef-Zz9"
URL = "https://api.brevo.com/v3/smtp/email"
CREATED = {"messageId": "<202401010000.12345678901@smtp-relay.mailin.fr>"}

# providers.md §7, Brevo body, verbatim.
VECTOR: dict[str, Any] = {
    "sender": {"name": "Acme Support", "email": "no-reply@acme.example"},
    "to": [{"email": "alice@example.com", "name": "Alice Example"}, {"email": "bob@example.com"}],
    "cc": [{"email": "carol@example.com", "name": "Carol"}],
    "bcc": [{"email": "dave@example.com"}],
    "replyTo": {"email": "help@acme.example", "name": "Help Desk"},
    "subject": "Your order #1234 — confirmée ✓",
    "textContent": "Hello Alice,\nYour order has shipped.",
    "htmlContent": "<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
    "attachment": [{"content": "SW52b2ljZSAxMjM0Cg==", "name": "invoice.txt"}],
    "headers": {"X-Order-Id": "1234", "X-Mailin-custom": '{"order_id": "1234"}'},
    "tags": ["order-confirmation"],
}


def vector_message(**overrides: Any) -> Message:
    """The logical message of providers.md §7."""
    fields: dict[str, Any] = {
        "sender": "Acme Support <no-reply@acme.example>",
        "to": ["Alice Example <alice@example.com>", "bob@example.com"],
        "cc": "Carol <carol@example.com>",
        "bcc": "dave@example.com",
        "reply_to": "Help Desk <help@acme.example>",
        "subject": "Your order #1234 — confirmée ✓",
        "text": "Hello Alice,\nYour order has shipped.",
        "html": "<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
        "attachments": [Attachment("invoice.txt", b"Invoice 1234\n", "text/plain")],
        "headers": {"X-Order-Id": "1234"},
        "tags": ["order-confirmation"],
        "metadata": {"order_id": "1234"},
    }
    fields.update(overrides)
    return Message(**fields)


def simple(n: int = 0, **overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "sender": "ann@example.com",
        "to": f"user{n}@example.com",
        "subject": f"Hello {n}",
        "html": "<p>Hi</p>",
    }
    fields.update(overrides)
    return Message(**fields)


def sdk_request(**kwargs: Any) -> httpx.Request:
    """The request brevo-python's own client builds for ``send_transac_email(**kwargs)``."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=CREATED)

    client = Brevo(api_key=KEY, httpx_client=httpx.Client(transport=httpx.MockTransport(handler)))
    client.transactional_emails.send_transac_email(**kwargs)
    return seen[0]


# ---------------------------------------------------------------- the §7 vector


def test_vector_sync_exact_request() -> None:
    brevo = BrevoTransport(api_key=KEY)
    with respx.mock(assert_all_called=True) as router:
        route = router.post(URL).mock(return_value=httpx.Response(201, json=CREATED))
        result = brevo.send(vector_message())
    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["api-key"] == KEY
    assert request.headers["User-Agent"] == f"unisend/{__version__}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == VECTOR
    assert result == SendResult(message_id=CREATED["messageId"], transport="brevo")
    brevo.close()


async def test_vector_async_exact_request() -> None:
    brevo = BrevoTransport(api_key=KEY)
    with respx.mock(assert_all_called=True) as router:
        route = router.post(URL).mock(return_value=httpx.Response(201, json=CREATED))
        result = await brevo.asend(vector_message())
    request = route.calls.last.request
    assert request.headers["api-key"] == KEY
    assert request.headers["User-Agent"] == f"unisend/{__version__}"
    assert json.loads(request.content) == VECTOR
    assert result.message_id == CREATED["messageId"]
    await brevo.aclose()


def test_vector_matches_brevo_python() -> None:
    sdk = sdk_request(
        sender={"name": "Acme Support", "email": "no-reply@acme.example"},
        to=[{"email": "alice@example.com", "name": "Alice Example"}, {"email": "bob@example.com"}],
        cc=[{"email": "carol@example.com", "name": "Carol"}],
        bcc=[{"email": "dave@example.com"}],
        reply_to={"email": "help@acme.example", "name": "Help Desk"},
        subject="Your order #1234 — confirmée ✓",
        text_content="Hello Alice,\nYour order has shipped.",
        html_content="<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
        attachment=[{"content": "SW52b2ljZSAxMjM0Cg==", "name": "invoice.txt"}],
        headers={"X-Order-Id": "1234", "X-Mailin-custom": '{"order_id": "1234"}'},
        tags=["order-confirmation"],
    )
    ours = BrevoTransport(api_key=KEY)._build_request(vector_message())
    assert str(sdk.url) == URL and ours.path == "/v3/smtp/email"
    assert sdk.headers["api-key"] == KEY
    assert json.loads(sdk.content) == ours.json == VECTOR


def test_template_schedule_and_sandbox_match_brevo_python() -> None:
    when = datetime(2030, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    message = Message(
        sender="ann@example.com",
        to="bob@example.com",
        subject="Override",
        template_id="17",
        template_data={"name": "Bob", "n": 2},
        send_at=when,
    )
    ours = BrevoTransport(api_key=KEY, sandbox=True)._build_request(message).json
    sdk = sdk_request(
        sender={"email": "ann@example.com"},
        to=[{"email": "bob@example.com"}],
        subject="Override",
        template_id=17,
        params={"name": "Bob", "n": 2},
        # The SDK keeps the caller's offset; unisend sends UTC as Brevo documents it.
        scheduled_at=when.astimezone(timezone.utc),
        headers={"X-Sib-Sandbox": "drop"},
    )
    assert ours == json.loads(sdk.content)
    assert ours["scheduledAt"] == "2030-01-02T03:04:05Z"
    assert ours["headers"] == {"X-Sib-Sandbox": "drop"}


def test_provider_options_merge_into_the_body() -> None:
    message = simple(provider_options={"brevo": {"headers": {"idempotencyKey": "k-1"}}})
    body = BrevoTransport(api_key=KEY)._build_request(message).json
    assert body["headers"] == {"idempotencyKey": "k-1"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"html": None, "text": "plain only"}, "a text-only message"),
        ({"reply_to": ["a@example.com", "b@example.com"]}, "a second reply_to"),
        (
            {"attachments": [Attachment("logo.png", b"x", "image/png", True, "logo")]},
            "the inline attachment 'logo.png'",
        ),
        (
            {"attachments": [Attachment("report.bin", b"x", "application/pdf")]},
            "content_type 'application/pdf'",
        ),
        ({"template_id": "welcome", "html": None}, "template_id 'welcome'"),
        ({"template_id": "3"}, "html together with template_id"),
        ({"metadata": {"a": "1"}, "headers": {"X-Mailin-Custom": "x"}}, "metadata together"),
        ({"subject": ""}, "an empty subject"),
    ],
)
def test_unsupported_fields_raise_before_io(overrides: dict[str, Any], field: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.post(URL)
        with pytest.raises(InvalidMessage) as caught:
            BrevoTransport(api_key=KEY).send(simple(**overrides))
    assert "brevo" in str(caught.value) and field in str(caught.value)
    assert not route.called


# ---------------------------------------------------------------- errors

ERRORS = [
    # status, body, headers, class, provider_code, rejected
    (
        401,
        {"code": "unauthorized", "message": "Key not found"},
        {},
        AuthenticationError,
        "unauthorized",
        {},
    ),
    (
        401,
        {
            "code": "unauthorized",
            "message": "We have detected you are using an unrecognised IP address",
        },
        {},
        AuthenticationError,
        "unauthorized",
        {},
    ),
    (
        400,
        {"code": "invalid_parameter", "message": "email is not valid in to: user0@example"},
        {},
        MessageRejected,
        "invalid_parameter",
        {},
    ),
    (
        400,
        {"code": "invalid_parameter", "message": "user0@example.com is blocklisted"},
        {},
        MessageRejected,
        "invalid_parameter",
        {"user0@example.com": "user0@example.com is blocklisted"},
    ),
    (
        400,
        {"code": "missing_parameter", "message": "subject is missing"},
        {},
        MessageRejected,
        "missing_parameter",
        {},
    ),
    (
        400,
        {"code": "duplicate_request", "message": "duplicate"},
        {},
        MessageRejected,
        "duplicate_request",
        {},
    ),
    (
        402,
        {"code": "not_enough_credits", "message": "Not enough credits"},
        {},
        ProviderError,
        "not_enough_credits",
        {},
    ),
    (
        403,
        {"code": "permission_denied", "message": "Unable to send email"},
        {},
        ProviderError,
        "permission_denied",
        {},
    ),
    (
        400,
        {"code": "account_under_validation", "message": "Your account is under validation"},
        {},
        ProviderError,
        "account_under_validation",
        {},
    ),
    (
        429,
        {"code": "too_many_requests", "message": "Too many requests"},
        {
            "x-sib-ratelimit-limit": "10",
            "x-sib-ratelimit-remaining": "0",
            "x-sib-ratelimit-reset": "4",
        },
        RateLimited,
        "too_many_requests",
        {},
    ),
    (500, {"code": "internal_error", "message": "boom"}, {}, TransientError, "internal_error", {}),
    (502, "<html>Bad gateway</html>", {}, TransientError, None, {}),
]


@pytest.mark.parametrize(("status", "body", "headers", "cls", "code", "rejected"), ERRORS)
def test_error_mapping(
    status: int,
    body: Any,
    headers: dict[str, str],
    cls: type[Exception],
    code: str | None,
    rejected: dict[str, str],
) -> None:
    kwargs: dict[str, Any] = {"json": body} if isinstance(body, dict) else {"text": body}
    with respx.mock() as router:
        router.post(URL).mock(return_value=httpx.Response(status, headers=headers, **kwargs))
        with pytest.raises(cls) as caught:
            BrevoTransport(api_key=KEY).send(simple())
    error = caught.value
    assert type(error) is cls
    assert error.status_code == status  # type: ignore[attr-defined]
    assert error.provider_code == code  # type: ignore[attr-defined]
    assert "<html>" not in str(error)
    if isinstance(error, MessageRejected):
        assert error.rejected == rejected
    if isinstance(error, RateLimited):
        assert error.retry_after == 4.0  # from x-sib-ratelimit-reset


def test_retry_after_header_wins_over_the_reset_header() -> None:
    headers = {"Retry-After": "9", "x-sib-ratelimit-reset": "2"}
    with respx.mock() as router:
        router.post(URL).mock(return_value=httpx.Response(429, headers=headers, json={}))
        with pytest.raises(RateLimited) as caught:
            BrevoTransport(api_key=KEY).send(simple())
    assert caught.value.retry_after == 9.0


# ---------------------------------------------------------------- no batch endpoint


def test_send_many_sends_each_message_and_isolates_failures() -> None:
    answers = [
        httpx.Response(201, json={"messageId": "<a@relay>"}),
        httpx.Response(400, json={"code": "invalid_parameter", "message": "bad"}),
        httpx.Response(201, json={"messageId": "<c@relay>"}),
    ]
    with respx.mock() as router:
        route = router.post(URL).mock(side_effect=answers)
        results = BrevoTransport(api_key=KEY).send_many([simple(0), simple(1), simple(2)])
    assert route.call_count == 3
    assert [json.loads(c.request.content)["to"][0]["email"] for c in route.calls] == [
        f"user{i}@example.com" for i in range(3)
    ]
    assert isinstance(results[0], SendResult) and results[0].message_id == "<a@relay>"
    assert isinstance(results[1], MessageRejected)
    assert isinstance(results[2], SendResult) and results[2].message_id == "<c@relay>"


async def test_send_many_and_asend_against_the_stub(stub: HttpStub) -> None:
    brevo = BrevoTransport(api_key=KEY, base_url=stub.url)
    results = brevo.send_many([simple(i) for i in range(5)])
    later = await brevo.asend_many([simple(i) for i in range(3)])
    single = await brevo.asend(vector_message())
    ids = [r.message_id for r in [*results, *later, single] if isinstance(r, SendResult)]
    assert len(set(ids)) == 9
    stats = stub.stats()
    assert stats["by_route"] == {"brevo": 9}
    assert stats["requests"] == 9
    brevo.close()
    await brevo.aclose()


def test_invalid_message_in_send_many_raises_before_anything_is_sent() -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.post(URL)
        with pytest.raises(InvalidMessage):
            BrevoTransport(api_key=KEY).send_many([simple(0), simple(1, html=None, text="t")])
    assert not route.called


# ---------------------------------------------------------------- configuration and secrecy


def test_missing_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="api_key"):
        BrevoTransport()
    with pytest.raises(ConfigurationError, match="API key"):
        from_url("brevo://@default")


def test_from_url() -> None:
    brevo = from_url(f"brevo://{KEY}@default?sandbox=yes&connect_timeout=1.5")
    assert isinstance(brevo, BrevoTransport)
    assert brevo.sandbox and brevo.timeout.connect == 1.5
    assert brevo._auth_headers() == {"api-key": KEY}
    legacy = from_url(f"brevo://{KEY}@api.sendinblue.com")
    assert isinstance(legacy, BrevoTransport) and legacy.base_url == "https://api.sendinblue.com"


def test_secret_never_in_repr_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    brevo = BrevoTransport(api_key=KEY)
    assert KEY not in repr(brevo)
    echo = {"code": "unauthorized", "message": f"Key not found: {KEY}"}
    with respx.mock() as router:
        router.post(URL).mock(return_value=httpx.Response(401, json=echo))
        with pytest.raises(AuthenticationError) as caught:
            brevo.send(simple())
    assert KEY not in str(caught.value) and "***" in str(caught.value)
    assert KEY not in caplog.text
    assert caplog.records
