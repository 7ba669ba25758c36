"""Django's webhook_view through Django's test client: CSRF-exempt, POST only, 200/400/401,
the ``delivery_event`` signal once per event, 500 when a receiver raises (so the provider
sends again), and bodies larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` up to 10 MB."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.test.utils import override_settings
from django.urls import path

from unisend import ConfigurationError
from unisend.contrib.django import delivery_event, webhook_view
from unisend.webhooks import DeliveryEvent, EventType

pytestmark = [pytest.mark.usefixtures("django_settings")]

SG_KEY = ec.generate_private_key(ec.SECP256R1())
SG_PUBLIC = base64.b64encode(
    SG_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()
MAILTRAP_SECRET = "mt-signing-secret"


def plain_view(request: HttpRequest) -> HttpResponse:
    """A view without csrf_exempt: the control for the CSRF test."""
    return HttpResponse("ok")


urlpatterns = [
    path("hooks/postmark", webhook_view("postmark", basic_auth=["hook:old", "hook:s3cret"])),
    path("hooks/sendgrid", webhook_view("sendgrid", verification_key=SG_PUBLIC)),
    path("hooks/mailtrap", webhook_view("mailtrap", signing_secret=MAILTRAP_SECRET)),
    path("hooks/brevo", webhook_view("brevo", token="brevo-token")),
    path("hooks/mailjet", webhook_view("mailjet", insecure=True)),
    path("plain", plain_view),
]

POSTMARK_DELIVERY = json.dumps(
    {
        "RecordType": "Delivery",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": "john@example.com",
        "DeliveredAt": "2019-11-05T16:33:54.9070259Z",
        "Metadata": {"order_id": "1234"},
        "Tag": "welcome",
    }
).encode()


def auth(credentials: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


@pytest.fixture(autouse=True)
def urls() -> Iterator[None]:
    with override_settings(ROOT_URLCONF=__name__):
        yield


@pytest.fixture
def received() -> Iterator[list[tuple[str, DeliveryEvent]]]:
    """Every (sender, event) the signal delivers during the test."""
    seen: list[tuple[str, DeliveryEvent]] = []

    def receiver(sender: str, event: DeliveryEvent, **kwargs: Any) -> None:
        seen.append((sender, event))

    delivery_event.connect(receiver, weak=False)
    yield seen
    delivery_event.disconnect(receiver)


def post(url: str, body: bytes, client: Client | None = None, **extra: str) -> Any:
    return (client or Client()).post(url, data=body, content_type="application/json", **extra)


def test_postmark_with_basic_auth_sends_the_signal_once(received) -> None:
    response = post("/hooks/postmark", POSTMARK_DELIVERY, **auth("hook:s3cret"))
    assert response.status_code == 200
    assert len(received) == 1
    sender, event = received[0]
    assert sender == "postmark"
    assert event.type is EventType.delivered
    assert event.message_id == "883953f4-6105-42a2-a16a-77a8eac79483"
    assert (event.metadata, event.tags) == ({"order_id": "1234"}, ("welcome",))
    # the old credential still works during rotation
    assert post("/hooks/postmark", POSTMARK_DELIVERY, **auth("hook:old")).status_code == 200
    assert len(received) == 2


@pytest.mark.parametrize("extra", [auth("hook:wrong"), {}, {"HTTP_AUTHORIZATION": "Bearer x"}])
def test_wrong_or_missing_credentials_answer_401(received, extra: dict[str, str]) -> None:
    response = post("/hooks/postmark", POSTMARK_DELIVERY, **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert b"s3cret" not in response.content
    assert received == []


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"MessageID": "x"}', b""])
def test_malformed_body_answers_400(received, body: bytes) -> None:
    response = post("/hooks/postmark", body, **auth("hook:s3cret"))
    assert response.status_code == 400
    assert received == []


def test_post_only(received) -> None:
    client = Client()
    for method in (client.get, client.put, client.delete):
        response = method("/hooks/postmark", **auth("hook:s3cret"))
        assert response.status_code == 405
        assert response["Allow"] == "POST"
    assert received == []


@override_settings(MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"])
def test_csrf_exempt(received) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post("/plain", data=b"{}", content_type="application/json").status_code == 403
    response = post("/hooks/postmark", POSTMARK_DELIVERY, client, **auth("hook:s3cret"))
    assert response.status_code == 200
    assert len(received) == 1


def sendgrid_request(events: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
    body = ("[" + ",\r\n".join(json.dumps(e) for e in events) + "]\r\n").encode()
    timestamp = "1700000000"
    signature = SG_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": base64.b64encode(signature).decode(),
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp,
    }


SG_EVENTS = [
    {
        "event": name,
        "email": "a@example.com",
        "timestamp": 1700000000 + i,
        "sg_message_id": f"msg{i}.filter",
        "sg_event_id": f"ev{i}",
    }
    for i, name in enumerate(["processed", "delivered", "open"])
]


def test_sendgrid_signed_batch_one_signal_per_event_in_order(received) -> None:
    body, headers = sendgrid_request(SG_EVENTS)
    assert post("/hooks/sendgrid", body, **headers).status_code == 200
    assert [(s, e.event_id, e.type) for s, e in received] == [
        ("sendgrid", "ev0", EventType.queued),
        ("sendgrid", "ev1", EventType.delivered),
        ("sendgrid", "ev2", EventType.opened),
    ]


def test_sendgrid_tampered_batch_answers_401_without_challenge(received) -> None:
    body, headers = sendgrid_request(SG_EVENTS)
    response = post("/hooks/sendgrid", body.replace(b"open", b"spam"), **headers)
    assert response.status_code == 401
    assert not response.has_header("WWW-Authenticate")
    assert received == []


def test_a_raising_receiver_answers_500_so_the_provider_retries(
    received, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Django mails ADMINS a report of the 500, which needs a SECRET_KEY these settings lack.
    monkeypatch.setattr("django.utils.log.AdminEmailHandler.emit", lambda self, record: None)
    calls: list[str | None] = []

    def failing(sender: str, event: DeliveryEvent, **kwargs: Any) -> None:
        calls.append(event.event_id)
        if event.event_id == "ev1":
            raise RuntimeError("database down")

    delivery_event.connect(failing, weak=False)
    try:
        body, headers = sendgrid_request(SG_EVENTS)
        response = post("/hooks/sendgrid", body, Client(raise_request_exception=False), **headers)
    finally:
        delivery_event.disconnect(failing)
    assert response.status_code == 500
    assert calls == ["ev0", "ev1"]  # stopped at the failure; the retry brings them again


def test_mailtrap_json_lines_with_signature(received) -> None:
    lines = [
        {
            "event": "delivery",
            "message_id": "m1",
            "email": "a@example.com",
            "timestamp": 1,
            "event_id": "e1",
        },
        {
            "event": "bounce",
            "message_id": "m2",
            "email": "b@example.com",
            "timestamp": 2,
            "event_id": "e2",
        },
    ]
    body = b"\n".join(json.dumps(line).encode() for line in lines)
    signature = hmac.new(MAILTRAP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert post("/hooks/mailtrap", body, HTTP_MAILTRAP_SIGNATURE=signature).status_code == 200
    assert [e.type for _, e in received] == [EventType.delivered, EventType.bounced]
    assert (
        post("/hooks/mailtrap", body + b"\n", HTTP_MAILTRAP_SIGNATURE="0" * 64).status_code == 401
    )


def test_brevo_bearer_token(received) -> None:
    body = b'{"event":"delivered","email":"a@example.com","message-id":"<x@relay>","ts_epoch":1}'
    assert post("/hooks/brevo", body, HTTP_AUTHORIZATION="Bearer brevo-token").status_code == 200
    response = post("/hooks/brevo", body, HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert len(received) == 1


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_bodies_over_djangos_upload_limit_but_under_10_mb_are_read(received) -> None:
    events = [
        {"event": "open", "time": 1, "email": f"u{i}@example.com", "MessageID": i}
        for i in range(2000)
    ]
    body = json.dumps(events).encode()
    assert len(body) > 50_000
    assert post("/hooks/mailjet", body).status_code == 200
    assert len(received) == 2000


def test_bodies_over_10_mb_answer_400(received) -> None:
    body = b"[" + b" " * (10 * 1024 * 1024) + b"]"
    assert post("/hooks/mailjet", body).status_code == 400
    assert received == []


def test_configuration_is_checked_when_the_view_is_built() -> None:
    with pytest.raises(ConfigurationError, match="no credential"):
        webhook_view("postmark")
    with pytest.raises(ConfigurationError, match="unknown webhook provider"):
        webhook_view("mandrill", insecure=True)


@pytest.mark.parametrize("url", ["sandbox://", "memory://"])
def test_local_routes_emit_no_delivery_events(received, url: str) -> None:
    from unisend import Mailer, Message

    with Mailer.from_url(url) as mailer:
        result = mailer.send(
            Message(sender="a@example.com", to="b@example.com", subject="Hi", text="x")
        )
    assert result.message_id
    assert received == []  # only a provider's webhook request produces events
