"""Postmark's webhooks: the official bounce sample, and every record type and bounce type
built from the documented fields (postmark.js payload models, Postmark's webhook docs)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from unisend.webhooks import DeliveryEvent, EventType, RejectReason, WebhookError, parse_events

MESSAGE_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


def parse(payload: dict[str, Any], headers: dict[str, str] | None = None) -> DeliveryEvent:
    (event,) = parse_events("postmark", json.dumps(payload).encode(), headers or {}, insecure=True)
    return event


def test_official_sample(samples: dict[str, Any]) -> None:
    event = parse(samples["postmark"])
    assert event.type is EventType.bounced
    assert event.reject_reason is RejectReason.bounced
    assert event.message_id == "2706ee8a-737c-4285-b032-ccd317af53ed"
    assert event.recipient == "bounce@example.com"
    assert event.event_id == "901542550"
    # 7 fractional digits and a -04:00 offset, as aware UTC
    assert event.timestamp == datetime(2016, 4, 27, 20, 28, 50, 396393, tzinfo=timezone.utc)
    assert event.description is not None and event.description.startswith("The server was")
    assert (
        event.mta_response
        == "smtp;550 5.1.1 The email account that you tried to reach does not exist."
    )


DELIVERY = {
    "RecordType": "Delivery",
    "ServerID": 23,
    "MessageStream": "outbound",
    "MessageID": MESSAGE_ID,
    "Recipient": "john@example.com",
    "Tag": "welcome-email",
    "DeliveredAt": "2019-11-05T16:33:54.9070259Z",
    "Details": "Test delivery webhook details",
    "Metadata": {"example": "value", "example_2": "value"},
}
OPEN = {
    "RecordType": "Open",
    "MessageStream": "outbound",
    "FirstOpen": True,
    "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
    "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
    "Platform": "WebMail",
    "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5)",
    "Geo": {"CountryISOCode": "RS", "Country": "Serbia", "City": "Novi Sad"},
    "MessageID": MESSAGE_ID,
    "Metadata": {"a_key": "a_value"},
    "ReceivedAt": "2019-11-05T16:33:54.9070259Z",
    "Tag": "welcome-email",
    "Recipient": "john@example.com",
}
CLICK = {
    **OPEN,
    "RecordType": "Click",
    "ClickLocation": "HTML",
    "OriginalLink": "https://example.com/welcome",
}
SPAM = {
    "RecordType": "SpamComplaint",
    "MessageStream": "outbound",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 100001,
    "Name": "Spam complaint",
    "Tag": "welcome-email",
    "MessageID": MESSAGE_ID,
    "Metadata": {"a_key": "a_value"},
    "ServerID": 1234,
    "Description": "The subscriber explicitly marked this message as spam.",
    "Details": "Test spam complaint details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Test subject",
    "Content": "<Abuse report dump>",
}
SUBSCRIPTION = {
    "RecordType": "SubscriptionChange",
    "MessageID": MESSAGE_ID,
    "ServerID": 23,
    "MessageStream": "outbound",
    "ChangedAt": "2020-02-01T10:53:34.416071Z",
    "Recipient": "john@example.com",
    "Origin": "Recipient",
    "SuppressSending": True,
    "SuppressionReason": "ManualSuppression",
    "Tag": "my-tag",
    "Metadata": {"example": "value"},
}


@pytest.mark.parametrize(
    ("payload", "kind", "reason"),
    [
        (DELIVERY, "delivered", None),
        (OPEN, "opened", None),
        (CLICK, "clicked", None),
        (SPAM, "complained", "spam"),
        (SUBSCRIPTION, "unsubscribed", "unsubscribed"),
        ({**SUBSCRIPTION, "SuppressionReason": "HardBounce"}, "bounced", "bounced"),
        ({**SUBSCRIPTION, "SuppressionReason": "SpamComplaint"}, "complained", "spam"),
        ({**SUBSCRIPTION, "SuppressSending": False, "SuppressionReason": None}, "subscribed", None),
        ({**DELIVERY, "RecordType": "SomethingNew"}, "unknown", None),
    ],
)
def test_every_record_type(payload: dict[str, Any], kind: str, reason: str | None) -> None:
    event = parse(payload)
    assert event.type == kind
    assert event.reject_reason == (None if reason is None else RejectReason(reason))
    assert event.message_id == MESSAGE_ID
    assert event.recipient == "john@example.com"
    assert event.timestamp is not None and event.timestamp.tzinfo == timezone.utc
    assert event.tags == (payload["Tag"],)
    assert event.metadata == payload["Metadata"]
    assert event.raw == payload


def test_fields_of_delivery_open_and_click() -> None:
    delivery, opened, click = parse(DELIVERY), parse(OPEN), parse(CLICK)
    assert delivery.timestamp == datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=timezone.utc)
    assert delivery.mta_response == "Test delivery webhook details"
    assert opened.user_agent == "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5)"
    assert click.click_url == "https://example.com/welcome"
    sub = parse(SUBSCRIPTION)
    assert sub.timestamp == datetime(2020, 2, 1, 10, 53, 34, 416071, tzinfo=timezone.utc)


BOUNCE = {
    "RecordType": "Bounce",
    "ID": 692560173,
    "MessageID": MESSAGE_ID,
    "Email": "john@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "Description": "d",
    "Details": "smtp;550",
}


@pytest.mark.parametrize(
    ("bounce_type", "type_code", "kind", "reason"),
    [
        ("HardBounce", 1, "bounced", "bounced"),
        ("Transient", 2, "deferred", None),
        ("Unsubscribe", 16, "unsubscribed", "unsubscribed"),
        ("Subscribe", 32, "subscribed", None),
        ("AutoResponder", 64, "autoresponded", None),
        ("AddressChange", 128, "autoresponded", None),
        ("DnsError", 256, "deferred", None),
        ("SpamNotification", 512, "complained", "spam"),
        ("OpenRelayTest", 1024, "deferred", None),
        ("Unknown", 2048, "bounced", "other"),
        ("SoftBounce", 4096, "bounced", "bounced"),
        ("VirusNotification", 8192, "bounced", "other"),
        ("ChallengeVerification", 16384, "autoresponded", None),
        ("BadEmailAddress", 100000, "rejected", "invalid"),
        ("SpamComplaint", 100001, "complained", "spam"),
        ("ManuallyDeactivated", 100002, "rejected", "blocked"),
        ("Unconfirmed", 100003, "rejected", "other"),
        ("Blocked", 100006, "rejected", "blocked"),
        ("SMTPApiError", 100007, "failed", None),
        ("InboundError", 100008, "failed", None),
        ("DMARCPolicy", 100009, "rejected", "blocked"),
        ("TemplateRenderingFailed", 100010, "failed", None),
        ("BrandNewType", 123, "unknown", None),
    ],
)
def test_every_bounce_type(bounce_type: str, type_code: int, kind: str, reason: str | None) -> None:
    event = parse({**BOUNCE, "Type": bounce_type, "TypeCode": type_code})
    assert (event.type, event.reject_reason) == (
        EventType(kind),
        None if reason is None else RejectReason(reason),
    )
    assert event.event_id == "692560173"
    assert event.tags == () and event.metadata == {}


def test_event_id_from_the_trace_header_when_there_is_no_id() -> None:
    event = parse(DELIVERY, {"X-PM-Webhook-Trace-Id": "trace-123"})
    assert event.event_id == "trace-123"
    assert parse(DELIVERY).event_id is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"FromFull": {"Email": "a@example.com"}, "MessageID": "x"}', "inbound-message webhook"),
        (b'[{"RecordType": "Delivery"}]', "one JSON object"),
        (b'{"MessageID": "x"}', "'RecordType' string"),
        (b'{"RecordType": "Delivery", "DeliveredAt": "last tuesday"}', "not ISO 8601"),
        (b'{"RecordType": "Delivery", "DeliveredAt": "2019-13-05T16:33:54Z"}', "impossible"),
        (b"<xml/>", "not JSON"),
    ],
)
def test_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(WebhookError, match=message):
        parse_events("postmark", body, {}, insecure=True)
