"""Flask's webhook_view through Flask's test client: POST only, 200/400/401, the handler
called once per event, 500 when it raises (so the provider sends again)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from unisend import ConfigurationError
from unisend.contrib.flask import webhook_view
from unisend.webhooks import DeliveryEvent, EventType

BREVO_BATCH = json.dumps(
    [
        {
            "event": "request",
            "email": "a@example.com",
            "message-id": "<1@relay>",
            "ts_epoch": 1520363423000,
            "tags": ["welcome"],
            "X-Mailin-custom": '{"user": "42"}',
        },
        {
            "event": "delivered",
            "email": "a@example.com",
            "message-id": "<1@relay>",
            "ts_epoch": 1520363424000,
            "tags": ["welcome"],
            "X-Mailin-custom": '{"user": "42"}',
        },
    ]
).encode()


def basic(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def make_app(handler: Callable[[DeliveryEvent], object], **auth: Any) -> Flask:
    app = Flask("shop")
    app.add_url_rule(
        "/hooks/brevo", view_func=webhook_view("brevo", handler, **auth), methods=["POST"]
    )
    return app


def test_handler_called_once_per_event_in_order() -> None:
    seen: list[DeliveryEvent] = []
    client = make_app(seen.append, basic_auth="hook:s3cret").test_client()
    response = client.post("/hooks/brevo", data=BREVO_BATCH, headers=basic("hook:s3cret"))
    assert response.status_code == 200
    assert [e.type for e in seen] == [EventType.queued, EventType.delivered]
    assert all(e.message_id == "<1@relay>" and e.metadata == {"user": "42"} for e in seen)


@pytest.mark.parametrize(
    "headers", [basic("hook:wrong"), {}, {"Authorization": "Bearer hook:s3cret"}]
)
def test_wrong_credentials_answer_401(headers: dict[str, str]) -> None:
    seen: list[DeliveryEvent] = []
    client = make_app(seen.append, basic_auth="hook:s3cret").test_client()
    response = client.post("/hooks/brevo", data=BREVO_BATCH, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert b"s3cret" not in response.data
    assert seen == []


def test_bearer_token() -> None:
    seen: list[DeliveryEvent] = []
    client = make_app(seen.append, token=["old-token", "new-token"]).test_client()
    ok = client.post(
        "/hooks/brevo", data=BREVO_BATCH, headers={"authorization": "Bearer new-token"}
    )
    assert ok.status_code == 200 and len(seen) == 2
    bad = client.post("/hooks/brevo", data=BREVO_BATCH, headers={"Authorization": "Bearer x"})
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("body", [b"{", b'{"email": "a@example.com"}', b'{"items": []}', b""])
def test_malformed_body_answers_400(body: bytes) -> None:
    seen: list[DeliveryEvent] = []
    client = make_app(seen.append, insecure=True).test_client()
    assert client.post("/hooks/brevo", data=body).status_code == 400
    assert seen == []


def test_body_over_10_mb_answers_400_before_reading() -> None:
    seen: list[DeliveryEvent] = []
    client = make_app(seen.append, insecure=True).test_client()
    body = b"[" + b" " * (10 * 1024 * 1024) + b"]"
    response = client.post("/hooks/brevo", data=body)
    assert response.status_code == 400 and b"10 MB" in response.data
    assert seen == []


def test_post_only_even_when_the_rule_allows_get() -> None:
    seen: list[DeliveryEvent] = []
    app = Flask("shop")
    app.add_url_rule(
        "/hooks/brevo",
        view_func=webhook_view("brevo", seen.append, insecure=True),
        methods=["GET", "POST"],
    )
    client = app.test_client()
    assert client.get("/hooks/brevo").status_code == 405
    # with methods=["POST"], Flask itself refuses other methods
    assert make_app(seen.append, insecure=True).test_client().get("/hooks/brevo").status_code == 405
    assert seen == []


def test_a_raising_handler_answers_500_so_the_provider_retries() -> None:
    calls: list[EventType] = []

    def handler(event: DeliveryEvent) -> None:
        calls.append(event.type)
        raise RuntimeError("database down")

    app = make_app(handler, insecure=True)  # not app.testing: errors become 500 as in production
    response = app.test_client().post("/hooks/brevo", data=BREVO_BATCH)
    assert response.status_code == 500
    assert calls == [EventType.queued]


def test_two_providers_get_distinct_endpoints_and_config_is_checked() -> None:
    app = Flask("shop")
    app.add_url_rule("/a", view_func=webhook_view("brevo", print, insecure=True), methods=["POST"])
    app.add_url_rule(
        "/b", view_func=webhook_view("mailjet", print, insecure=True), methods=["POST"]
    )
    assert {"unisend_brevo_webhook", "unisend_mailjet_webhook"} <= set(app.view_functions)
    with pytest.raises(ConfigurationError, match="no credential"):
        webhook_view("brevo", print)
