"""Mailtrap's sending webhooks: the official sample, every documented event, the JSON
``{"events": [...]}`` and JSON Lines forms."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from unisend.webhooks import EventType, RejectReason, WebhookError, parse_events

COMMON = {
    "message_id": "1df37d17-0286-4d8b-8edf-bc4ec5be86e6",
    "sending_stream": "transactional",
    "email": "receiver@example.com",
    "timestamp": 1716070000,
    "event_id": "bede7236-2284-43d6-a953-1fdcafd0fdbc",
    "category": "password-reset",
    "custom_variables": {"user_id": "42", "attempt": 2},
}


def test_official_sample(samples: dict[str, Any]) -> None:
    (event,) = parse_events("mailtrap", json.dumps(samples["mailtrap"]).encode(), {}, insecure=True)
    assert event.type is EventType.delivered
    assert event.message_id == "1df37d17-0286-4d8b-8edf-bc4ec5be86e6"
    assert event.event_id == "bede7236-2284-43d6-a953-1fdcafd0fdbc"
    assert event.timestamp == datetime(2017, 6, 22, 1, 5, 27, tzinfo=timezone.utc)
    assert event.tags == ("password-reset",)
    assert event.metadata == {"variable_a": "value", "variable_b": "value2"}


@pytest.mark.parametrize(
    ("fields", "kind", "reason"),
    [
        ({"event": "delivery"}, "delivered", None),
        ({"event": "open", "ip": "1.2.3.4", "user_agent": "Mozilla/5.0"}, "opened", None),
        (
            {
                "event": "click",
                "url": "https://example.com/x",
                "ip": "1.2.3.4",
                "user_agent": "Mozilla/5.0",
            },
            "clicked",
            None,
        ),
        (
            {"event": "unsubscribe", "ip": "1.2.3.4", "user_agent": "Mozilla/5.0"},
            "unsubscribed",
            "unsubscribed",
        ),
        ({"event": "spam"}, "complained", "spam"),
        (
            {
                "event": "soft bounce",
                "reason": "mailbox full",
                "response": "452 4.2.2 full",
                "response_code": 452,
                "bounce_category": "mailbox_full",
            },
            "deferred",
            None,
        ),
        (
            {
                "event": "bounce",
                "reason": "unknown user",
                "response": "550 5.1.1 no such user",
                "response_code": 550,
                "bounce_category": "invalid_recipient",
            },
            "bounced",
            "bounced",
        ),
        ({"event": "suspension", "reason": "rate limited"}, "deferred", None),
        ({"event": "reject", "reason": "suppressed address"}, "rejected", "blocked"),
        ({"event": "inbound.something"}, "unknown", None),
    ],
)
def test_every_event(fields: dict[str, Any], kind: str, reason: str | None) -> None:
    body = json.dumps({"events": [{**COMMON, **fields}]}).encode()
    (event,) = parse_events("mailtrap", body, {}, insecure=True)
    assert event.type == kind
    assert event.reject_reason == (None if reason is None else RejectReason(reason))
    assert event.message_id == COMMON["message_id"]
    assert event.recipient == "receiver@example.com"
    assert event.event_id == COMMON["event_id"]
    assert event.tags == ("password-reset",)
    assert event.metadata == {"user_id": "42", "attempt": "2"}
    assert event.description == fields.get("reason")
    assert event.mta_response == fields.get("response")
    assert event.click_url == fields.get("url")
    assert event.user_agent == fields.get("user_agent")


def test_json_lines_body() -> None:
    lines = [
        {**COMMON, "event": n, "event_id": f"e{i}"}
        for i, n in enumerate(["delivery", "open", "click"])
    ]
    body = ("\n".join(json.dumps(line) for line in lines) + "\n").encode()
    parsed = parse_events("mailtrap", body, {}, insecure=True)
    assert [(e.type, e.event_id) for e in parsed] == [
        (EventType.delivered, "e0"),
        (EventType.opened, "e1"),
        (EventType.clicked, "e2"),
    ]
    # a JSON Lines body of one line is one object
    (single,) = parse_events("mailtrap", body.split(b"\n")[0], {}, insecure=True)
    assert single.event_id == "e0"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"events": {"event": "delivery"}}', "must be a JSON array"),
        (b'{"events": [{"email": "a@example.com"}]}', "not a Mailtrap event"),
        (b'{"event":"delivery"}\nnot json\n', "neither JSON nor JSON Lines \\(line 2\\)"),
        (b"  \n", "empty"),
    ],
)
def test_malformed(body: bytes, message: str) -> None:
    with pytest.raises(WebhookError, match=message):
        parse_events("mailtrap", body, {}, insecure=True)
