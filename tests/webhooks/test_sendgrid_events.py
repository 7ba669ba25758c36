"""SendGrid's Event Webhook: the official sample and one realistic event of every type,
built from the documented field list (Event Webhook Reference; anymail's key list)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from unisend.webhooks import DeliveryEvent, EventType, RejectReason, WebhookError, parse_events

BASE = {
    "email": "alice@example.com",
    "timestamp": 1700000000,
    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
    "sg_event_id": "sg-event-1",
    "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    "category": ["welcome", "onboarding"],
    "order_id": "1234",  # a custom arg
}


def parse(*events: dict[str, Any]) -> list[DeliveryEvent]:
    body = ("[" + ",\r\n".join(json.dumps({**BASE, **e}) for e in events) + "]\r\n").encode()
    return parse_events("sendgrid", body, {}, insecure=True)


def test_official_sample(samples: dict[str, Any]) -> None:
    (event,) = parse_events("sendgrid", json.dumps(samples["sendgrid"]).encode(), {}, insecure=True)
    assert event.provider == "sendgrid"
    assert event.type is EventType.rejected
    assert event.reject_reason is RejectReason.bounced
    assert event.message_id == "LRzXl_NHStOGhQ4kofSm_A"
    assert event.recipient == "hello@world.com"
    assert event.timestamp == datetime(2020, 9, 14, 19, 41, 32, tzinfo=timezone.utc)
    assert event.event_id == "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA"
    assert event.description == "Bounced Address"
    assert event.metadata == {} and event.tags == ()
    assert event.raw["smtp-id"] == "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>"


@pytest.mark.parametrize(
    ("fields", "kind", "reason"),
    [
        ({"event": "processed", "pool": {"name": "new_MY_test", "id": 210}}, "queued", None),
        (
            {"event": "dropped", "reason": "Bounced Address", "status": "5.0.0"},
            "rejected",
            "bounced",
        ),
        ({"event": "dropped", "reason": "Unsubscribed Address"}, "rejected", "unsubscribed"),
        ({"event": "dropped", "reason": "Spam Reporting Address"}, "rejected", "spam"),
        ({"event": "dropped", "reason": "Invalid"}, "rejected", "invalid"),
        ({"event": "dropped", "reason": "Invalid SMTPAPI header"}, "rejected", "invalid"),
        ({"event": "dropped", "reason": "Expired"}, "rejected", "timed_out"),
        ({"event": "dropped", "reason": "Recipient List over Package Quota"}, "rejected", "other"),
        (
            {"event": "delivered", "response": "250 OK", "ip": "168.1.1.1", "tls": 1},
            "delivered",
            None,
        ),
        (
            {"event": "deferred", "response": "400 try again later", "attempt": "5"},
            "deferred",
            None,
        ),
        (
            {
                "event": "bounce",
                "reason": "500 unknown recipient",
                "status": "5.0.0",
                "type": "bounce",
            },
            "bounced",
            "bounced",
        ),
        (
            {
                "event": "bounce",
                "reason": "550 blocked by policy",
                "status": "5.7.1",
                "type": "blocked",
            },
            "bounced",
            "blocked",
        ),
        (
            {
                "event": "open",
                "useragent": "Mozilla/5.0",
                "ip": "255.255.255.255",
                "sg_machine_open": False,
            },
            "opened",
            None,
        ),
        (
            {
                "event": "click",
                "useragent": "Mozilla/5.0",
                "url": "https://shop.example/o/1234",
                "url_offset": {"index": 0, "type": "html"},
            },
            "clicked",
            None,
        ),
        ({"event": "spamreport"}, "complained", "spam"),
        ({"event": "unsubscribe"}, "unsubscribed", "unsubscribed"),
        (
            {
                "event": "group_unsubscribe",
                "asm_group_id": 10,
                "useragent": "Mozilla/5.0",
                "ip": "255.255.255.255",
                "url": "https://sendgrid.net/x",
            },
            "unsubscribed",
            "unsubscribed",
        ),
        ({"event": "group_resubscribe", "asm_group_id": 10}, "subscribed", None),
        ({"event": "account_status_change", "type": "compliance_suspend"}, "unknown", None),
    ],
)
def test_every_event_type(fields: dict[str, Any], kind: str, reason: str | None) -> None:
    (event,) = parse(fields)
    assert event.type == kind
    assert event.reject_reason == (None if reason is None else RejectReason(reason))
    # what every SendGrid event carries
    assert event.message_id == "14c5d75ce93"
    assert event.recipient == "alice@example.com"
    assert event.event_id == "sg-event-1"
    assert event.timestamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert event.tags == ("welcome", "onboarding")
    assert event.metadata == {"order_id": "1234"}  # SendGrid's own keys stay out
    assert event.raw["event"] == fields["event"]


def test_field_mapping_of_bounces_clicks_and_deliveries() -> None:
    bounce, click, delivered = parse(
        {"event": "bounce", "reason": "550 5.1.1 no such user", "type": "bounce"},
        {"event": "click", "url": "https://shop.example/o", "useragent": "Mozilla/5.0 (X11)"},
        {"event": "delivered", "response": "250 2.0.0 OK queued"},
    )
    assert bounce.mta_response == bounce.description == "550 5.1.1 no such user"
    assert (click.click_url, click.user_agent) == ("https://shop.example/o", "Mozilla/5.0 (X11)")
    assert delivered.mta_response == "250 2.0.0 OK queued"


def test_custom_args_and_categories_in_every_form() -> None:
    (event,) = parse(
        {
            "event": "delivered",
            "category": "single",
            "user": "42",
            "n": 7,
            "sg_template_id": "d-1",
            "marketing_campaign_id": 9,
            "bounce_classification": "Content",
        }
    )
    assert event.tags == ("single",)
    assert event.metadata == {"order_id": "1234", "user": "42", "n": "7"}


def test_message_id_falls_back_to_smtp_id() -> None:
    body = (
        b'[{"event":"processed","email":"a@example.com","timestamp":1,"smtp-id":"<abc123@ismtpd>"}]'
    )
    assert parse_events("sendgrid", body, {}, insecure=True)[0].message_id == "abc123"
    body = b'[{"event":"processed","email":"a@example.com","timestamp":1}]'
    assert parse_events("sendgrid", body, {}, insecure=True)[0].message_id is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"event": "delivered"}', "JSON array"),
        (b"[1, 2]", "item 0 of the array is not a SendGrid event"),
        (b'[{"email": "a@example.com"}]', "'event' string"),
        (b'[{"event": 5}]', "'event' string"),
        (b"[{", "not JSON"),
        (b"", "empty"),
        (b"\xff\xfe[]", "not"),
        (b'[{"event":"open","timestamp":"yesterday"}]', "not Unix time"),
        (b'[{"event":"open","timestamp":1e20}]', "out of range"),
    ],
)
def test_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(WebhookError, match=message):
        parse_events("sendgrid", body, {}, insecure=True)


def test_empty_batch_and_order_kept() -> None:
    assert parse_events("sendgrid", b"[]", {}, insecure=True) == []
    kinds = [
        e.type for e in parse({"event": "processed"}, {"event": "delivered"}, {"event": "open"})
    ]
    assert kinds == [EventType.queued, EventType.delivered, EventType.opened]
