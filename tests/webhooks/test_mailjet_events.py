"""Mailjet's Event API: the official sample, every event from the documented field lists
(api-documentation ``guides/_event-api.md``), single and grouped bodies, 64-bit ids."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from unisend.webhooks import EventType, RejectReason, WebhookError, parse_events

# A MessageID above 2**53: a double would change its last digits (mailjet-apiv3-php#25).
BIG_ID = 288230384416866980

COMMON = {
    "time": 1433333949,
    "email": "api@mailjet.com",
    "mj_campaign_id": 7257,
    "mj_contact_id": 4,
    "customcampaign": "welcome",
    "MessageID": BIG_ID,
    "CustomID": "helloworld",
    "Payload": json.dumps({"order_id": "1234", "user": "42"}),
}


def test_official_sample(samples: dict[str, Any]) -> None:
    (event,) = parse_events("mailjet", json.dumps(samples["mailjet"]).encode(), {}, insecure=True)
    assert event.type is EventType.bounced
    assert event.reject_reason is RejectReason.bounced  # "user unknown"
    assert event.message_id == "13792286917004336"
    assert event.recipient == "bounce@mailjet.com"
    assert event.timestamp == datetime(2015, 5, 5, 7, 49, 55, tzinfo=timezone.utc)
    assert event.description == "recipient: user unknown"
    assert event.tags == () and event.metadata == {} and event.event_id is None


@pytest.mark.parametrize(
    ("fields", "kind", "reason"),
    [
        (
            {
                "event": "sent",
                "mj_message_id": "19421777396190490",
                "smtp_reply": "sent (250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp)",
            },
            "delivered",
            None,
        ),
        ({"event": "open", "ip": "127.0.0.1", "geo": "US", "agent": "Mozilla/5.0"}, "opened", None),
        (
            {
                "event": "click",
                "url": "https://www.mailjet.com",
                "ip": "127.0.0.1",
                "geo": "FR",
                "agent": "Mozilla/5.0",
            },
            "clicked",
            None,
        ),
        (
            {
                "event": "bounce",
                "blocked": False,
                "hard_bounce": True,
                "error_related_to": "recipient",
                "error": "user unknown",
            },
            "bounced",
            "bounced",
        ),
        (
            {
                "event": "bounce",
                "blocked": False,
                "hard_bounce": False,
                "error_related_to": "domain",
                "error": "greylisted",
            },
            "deferred",
            None,
        ),
        (
            {
                "event": "bounce",
                "hard_bounce": True,
                "error_related_to": "domain",
                "error": "invalid domain",
            },
            "bounced",
            "invalid",
        ),
        (
            {"event": "blocked", "error_related_to": "recipient", "error": "user unknown"},
            "rejected",
            "bounced",
        ),
        (
            {"event": "blocked", "error_related_to": "spam", "error": "sender blocked"},
            "rejected",
            "blocked",
        ),
        (
            {"event": "blocked", "error_related_to": "spam", "error": "content blocked"},
            "rejected",
            "spam",
        ),
        (
            {"event": "blocked", "error_related_to": "mailjet", "error": "preblocked"},
            "rejected",
            "blocked",
        ),
        (
            {"event": "blocked", "error_related_to": "system", "error": "connection issue"},
            "rejected",
            "other",
        ),
        (
            {"event": "blocked", "error_related_to": "x", "error": "a brand new error"},
            "rejected",
            "other",
        ),
        ({"event": "spam", "source": "JMRPP"}, "complained", "spam"),
        (
            {
                "event": "unsub",
                "mj_list_id": 1,
                "ip": "127.0.0.1",
                "geo": "FR",
                "agent": "Mozilla/5.0",
            },
            "unsubscribed",
            "unsubscribed",
        ),
        ({"event": "something_new"}, "unknown", None),
    ],
)
def test_every_event(fields: dict[str, Any], kind: str, reason: str | None) -> None:
    body = json.dumps({**COMMON, **fields}).encode()
    (event,) = parse_events("mailjet", body, {}, insecure=True)
    assert event.type == kind
    assert event.reject_reason == (None if reason is None else RejectReason(reason))
    assert event.message_id == str(BIG_ID) == "288230384416866980"
    assert event.recipient == "api@mailjet.com"
    assert event.timestamp == datetime(2015, 6, 3, 12, 19, 9, tzinfo=timezone.utc)
    assert event.tags == ("welcome",)
    assert event.metadata == {"order_id": "1234", "user": "42"}


def test_field_mapping() -> None:
    sent, click = parse_events(
        "mailjet",
        json.dumps(
            [
                {**COMMON, "event": "sent", "smtp_reply": "sent (250 OK)"},
                {**COMMON, "event": "click", "url": "https://x.example/a", "agent": "UA/1"},
            ]
        ).encode(),
        {},
        insecure=True,
    )
    assert sent.mta_response == "sent (250 OK)"
    assert (click.click_url, click.user_agent) == ("https://x.example/a", "UA/1")


def test_grouped_array_of_mixed_events_keeps_order() -> None:
    events = [{**COMMON, "event": name} for name in ("sent", "open", "click", "spam")]
    parsed = parse_events("mailjet", json.dumps(events).encode(), {}, insecure=True)
    assert [e.type for e in parsed] == [
        EventType.delivered,
        EventType.opened,
        EventType.clicked,
        EventType.complained,
    ]


def test_big_message_id_exact_from_raw_text() -> None:
    body = b'{"event":"sent","time":1,"email":"a@example.com","MessageID":1152921515016738081}'
    (event,) = parse_events("mailjet", body, {}, insecure=True)
    assert event.message_id == "1152921515016738081"


def test_payload_that_is_not_a_json_object_gives_empty_metadata() -> None:
    for payload in ("", "plain text", "[1, 2]"):
        body = json.dumps({**COMMON, "event": "open", "Payload": payload}).encode()
        assert parse_events("mailjet", body, {}, insecure=True)[0].metadata == {}


def test_message_id_falls_back_to_mj_message_id() -> None:
    body = b'{"event":"sent","time":1,"email":"a@example.com","mj_message_id":"19421777396190490"}'
    assert parse_events("mailjet", body, {}, insecure=True)[0].message_id == "19421777396190490"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'"sent"', "not a Mailjet event"),
        (b'[{"event": "sent"}, 3]', "item 1"),
        (b"{,}", "not JSON"),
    ],
)
def test_malformed(body: bytes, message: str) -> None:
    with pytest.raises(WebhookError, match=message):
        parse_events("mailjet", body, {}, insecure=True)
