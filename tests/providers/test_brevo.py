"""BrevoTransport: payloads (providers.md §7 vector, brevo-python cross-check), error
mapping, no batch endpoint, configuration and secrecy; with respx and against the stub."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
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
    Message,
    MessageRejected,
    ProviderError,
    RateLimited,
    SendResult,
    TransientError,
    from_url,
)
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


@pytest.fixture
def simple(simple: Callable[..., Message]) -> Callable[..., Message]:
    """The short message with an html body, which Brevo requires."""
    return functools.partial(simple, text=None, html="<p>Hi</p>")


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


def test_vector_request_is_exact(via: Any, vector: Message) -> None:
    with BrevoTransport(api_key=KEY) as brevo:
        reply = httpx.Response(201, json=CREATED)
        body, result = via.post(brevo, vector, URL, reply, {"api-key": KEY})
    assert body == VECTOR
    assert result == SendResult(message_id=CREATED["messageId"], transport="brevo")


def test_vector_matches_brevo_python(vector: Message) -> None:
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
    ours = BrevoTransport(api_key=KEY)._build_request(vector)
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


def test_provider_options_merge_into_the_body(simple: Callable[..., Message]) -> None:
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
def test_unsupported_fields_raise_before_io(
    via: Any, simple: Callable[..., Message], overrides: dict[str, Any], field: str
) -> None:
    text = via.invalid(BrevoTransport(api_key=KEY), simple(**overrides))
    assert "brevo" in text and field in text


# ---------------------------------------------------------------- errors

RATE_HEADERS = {
    "x-sib-ratelimit-limit": "10",
    "x-sib-ratelimit-remaining": "0",
    "x-sib-ratelimit-reset": "4",
}
UNRECOGNISED_IP = "We have detected you are using an unrecognised IP address"
BLOCKLISTED = "user0@example.com is blocklisted"

ERRORS = [
    # status, code, message (the body is {"code", "message"}; plain text without a code),
    # class, rejected; a 429 carries RATE_HEADERS.
    (401, "unauthorized", "Key not found", AuthenticationError, {}),
    (401, "unauthorized", UNRECOGNISED_IP, AuthenticationError, {}),
    (400, "invalid_parameter", "email is not valid in to: user0@example", MessageRejected, {}),
    (400, "invalid_parameter", BLOCKLISTED, MessageRejected, {"user0@example.com": BLOCKLISTED}),
    (400, "missing_parameter", "subject is missing", MessageRejected, {}),
    (400, "duplicate_request", "duplicate", MessageRejected, {}),
    (402, "not_enough_credits", "Not enough credits", ProviderError, {}),
    (403, "permission_denied", "Unable to send email", ProviderError, {}),
    (400, "account_under_validation", "Your account is under validation", ProviderError, {}),
    (429, "too_many_requests", "Too many requests", RateLimited, {}),
    (500, "internal_error", "boom", TransientError, {}),
    (502, None, "<html>Bad gateway</html>", TransientError, {}),
]


@pytest.mark.parametrize(("status", "code", "text", "cls", "rejected"), ERRORS)
def test_error_mapping(
    via: Any,
    simple: Callable[..., Message],
    status: int,
    code: str | None,
    text: str,
    cls: type[Exception],
    rejected: dict[str, str],
) -> None:
    body = {"code": code, "message": text} if code else text
    headers = RATE_HEADERS if status == 429 else {}
    error = via.refusal(BrevoTransport(api_key=KEY), simple(), URL, status, body, headers)
    assert type(error) is cls
    assert error.status_code == status
    assert error.provider_code == code
    assert "<html>" not in str(error)
    if isinstance(error, MessageRejected):
        assert error.rejected == rejected
    if isinstance(error, RateLimited):
        assert error.retry_after == 4.0  # from x-sib-ratelimit-reset


def test_retry_after_header_wins_over_the_reset_header(
    via: Any, simple: Callable[..., Message]
) -> None:
    headers = {"Retry-After": "9", "x-sib-ratelimit-reset": "2"}
    error = via.refusal(BrevoTransport(api_key=KEY), simple(), URL, 429, {}, headers)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 9.0


# ---------------------------------------------------------------- no batch endpoint


def test_send_many_sends_each_message_and_isolates_failures(
    simple: Callable[..., Message],
) -> None:
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


async def test_send_many_and_asend_against_the_stub(
    stub: HttpStub, vector: Message, simple: Callable[..., Message]
) -> None:
    brevo = BrevoTransport(api_key=KEY, base_url=stub.url)
    results = brevo.send_many([simple(i) for i in range(5)])
    later = await brevo.asend_many([simple(i) for i in range(3)])
    single = await brevo.asend(vector)
    ids = [r.message_id for r in [*results, *later, single] if isinstance(r, SendResult)]
    assert len(set(ids)) == 9
    stats = stub.stats()
    assert stats["by_route"] == {"brevo": 9}
    assert stats["requests"] == 9
    brevo.close()
    await brevo.aclose()


def test_invalid_message_in_send_many_raises_before_anything_is_sent(
    via: Any, simple: Callable[..., Message]
) -> None:
    messages = [simple(0), simple(1, html=None, text="t")]
    assert "text-only" in via.invalid(BrevoTransport(api_key=KEY), messages)


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


def test_secret_never_in_repr_errors_or_logs(
    caplog: pytest.LogCaptureFixture, simple: Callable[..., Message]
) -> None:
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
