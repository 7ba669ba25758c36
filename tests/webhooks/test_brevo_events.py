"""Brevo's transactional webhooks: the official sample, every event of the documented
list, single and batched bodies, tags and metadata."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from unisend.webhooks import EventType, RejectReason, WebhookError, parse_events

COMMON = {
    "email": "example@domain.com",
    "id": 12345,  # the webhook's id, not an event id
    "date": "2020-10-09 00:00:00",
    "ts": 1604933619,
    "message-id": "<202010091900.1234567890@smtp-relay.mailin.fr>",
    "ts_event": 1604933654,
    "subject": "My first Transactional",
    "X-Mailin-custom": json.dumps({"order_id": "1234"}),
    "sending_ip": "xxx.xxx.xxx.xxx",
    "ts_epoch": 1604933654123,
    "template_id": 22,
    "tags": ["welcome"],
}


def test_official_sample(samples: dict[str, Any]) -> None:
    (event,) = parse_events("brevo", json.dumps(samples["brevo"]).encode(), {}, insecure=True)
    assert event.type is EventType.queued
    assert event.message_id == "<201803062010.27287306012@smtp-relay.mailin.fr>"
    assert event.recipient == "recipient@example.com"
    # from ts_epoch (UTC ms), not "ts"/"date" (the account's zone, 9 hours off here)
    assert event.timestamp == datetime(2018, 3, 6, 19, 10, 23, tzinfo=timezone.utc)
    assert event.tags == ("tag1", "tag2")
    assert event.metadata == {"meta": "data"}
    assert event.event_id is None


@pytest.mark.parametrize(
    ("fields", "kind", "reason"),
    [
        ({"event": "request"}, "queued", None),
        ({"event": "delivered"}, "delivered", None),
        ({"event": "hard_bounce", "reason": "550 5.1.1 unknown user"}, "bounced", "bounced"),
        ({"event": "soft_bounce", "reason": "452 mailbox full"}, "bounced", "bounced"),
        ({"event": "blocked", "reason": "blocked : due to blacklist user"}, "rejected", "blocked"),
        ({"event": "spam"}, "complained", "spam"),
        ({"event": "complaint"}, "complained", "spam"),
        ({"event": "invalid_email", "reason": "invalid address"}, "bounced", "invalid"),
        ({"event": "deferred", "reason": "421 try later"}, "deferred", None),
        ({"event": "opened", "user_agent": "Mozilla/5.0"}, "opened", None),
        ({"event": "unique_opened", "user_agent": "Mozilla/5.0"}, "opened", None),
        ({"event": "proxy_open"}, "opened", None),
        ({"event": "unique_proxy_open"}, "opened", None),
        ({"event": "click", "link": "https://shop.example/o/1234"}, "clicked", None),
        ({"event": "unsubscribe"}, "unsubscribed", "unsubscribed"),
        ({"event": "error", "reason": "template render failed"}, "failed", None),
        ({"event": "a_new_event"}, "unknown", None),
    ],
)
def test_every_event(fields: dict[str, Any], kind: str, reason: str | None) -> None:
    (event,) = parse_events("brevo", json.dumps({**COMMON, **fields}).encode(), {}, insecure=True)
    assert event.type == kind
    assert event.reject_reason == (None if reason is None else RejectReason(reason))
    assert event.message_id == "<202010091900.1234567890@smtp-relay.mailin.fr>"
    assert event.timestamp == datetime(2020, 11, 9, 14, 54, 14, 123000, tzinfo=timezone.utc)
    assert event.tags == ("welcome",)
    assert event.metadata == {"order_id": "1234"}
    assert event.description == fields.get("reason")


def test_field_mapping() -> None:
    body = json.dumps(
        [
            {**COMMON, "event": "hard_bounce", "reason": "550 unknown"},
            {**COMMON, "event": "click", "link": "https://x.example/", "user_agent": "UA/2"},
        ]
    ).encode()
    bounce, click = parse_events("brevo", body, {}, insecure=True)
    assert bounce.mta_response == "550 unknown"
    assert (click.click_url, click.user_agent, click.mta_response) == (
        "https://x.example/",
        "UA/2",
        None,
    )


def test_batched_array_keeps_order() -> None:
    names = ["request", "delivered", "opened", "click"]
    body = json.dumps([{**COMMON, "event": n} for n in names]).encode()
    parsed = parse_events("brevo", body, {}, insecure=True)
    assert [e.raw["event"] for e in parsed] == names


@pytest.mark.parametrize(
    ("tag_fields", "expected"),
    [
        ({"tag": '["a","b"]'}, ("a", "b")),
        ({"tag": "plain-tag"}, ("plain-tag",)),
        ({"tag": "[not json"}, ("[not json",)),
        ({}, ()),
    ],
)
def test_tag_forms_without_tags(tag_fields: dict[str, str], expected: tuple[str, ...]) -> None:
    fields = {k: v for k, v in COMMON.items() if k != "tags"}
    body = json.dumps({**fields, "event": "delivered", **tag_fields}).encode()
    assert parse_events("brevo", body, {}, insecure=True)[0].tags == expected


def test_timestamp_from_ts_event_without_ts_epoch() -> None:
    fields = {k: v for k, v in COMMON.items() if k != "ts_epoch"}
    body = json.dumps({**fields, "event": "delivered"}).encode()
    assert parse_events("brevo", body, {}, insecure=True)[0].timestamp == datetime(
        2020, 11, 9, 14, 54, 14, tzinfo=timezone.utc
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"items": [{"Uuid": ["x"]}]}', "inbound-parsing webhook"),
        (b'{"email": "a@example.com"}', "not a Brevo event"),
        (b"12", "not a Brevo event"),
        (b'{"event":"delivered","ts_epoch":"soon"}', "not Unix time"),
    ],
)
def test_malformed(body: bytes, message: str) -> None:
    with pytest.raises(WebhookError, match=message):
        parse_events("brevo", body, {}, insecure=True)
