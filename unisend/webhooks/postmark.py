"""Postmark's webhooks: one JSON object per POST, typed by ``RecordType`` (and, for
bounces, ``Type``).

Record types and bounce types: postmark.js ``models/webhooks`` and ``Bounce.ts``; the
mapping follows django-anymail ``webhooks/postmark.py``. ``Metadata`` and ``Tag`` carry
``Message.metadata`` and the one tag :class:`~unisend.transports.PostmarkTransport`
sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._decode import event_objects, from_iso, load_json, string_map, string_tuple, text
from ._model import DeliveryEvent, EventType, RejectReason, WebhookError, new_event

# Bounce "Type" -> (event type, reject reason).
_BOUNCE_TYPES: dict[str, tuple[EventType, RejectReason | None]] = {
    "HardBounce": (EventType.bounced, RejectReason.bounced),
    "Transient": (EventType.deferred, None),
    "Unsubscribe": (EventType.unsubscribed, RejectReason.unsubscribed),
    "Subscribe": (EventType.subscribed, None),
    "AutoResponder": (EventType.autoresponded, None),
    "AddressChange": (EventType.autoresponded, None),
    "DnsError": (EventType.deferred, None),
    "SpamNotification": (EventType.complained, RejectReason.spam),
    "OpenRelayTest": (EventType.deferred, None),
    "Unknown": (EventType.bounced, RejectReason.other),
    "SoftBounce": (EventType.bounced, RejectReason.bounced),
    "VirusNotification": (EventType.bounced, RejectReason.other),
    "ChallengeVerification": (EventType.autoresponded, None),
    "BadEmailAddress": (EventType.rejected, RejectReason.invalid),
    "SpamComplaint": (EventType.complained, RejectReason.spam),
    "ManuallyDeactivated": (EventType.rejected, RejectReason.blocked),
    "Unconfirmed": (EventType.rejected, RejectReason.other),
    "Blocked": (EventType.rejected, RejectReason.blocked),
    "SMTPApiError": (EventType.failed, None),
    "InboundError": (EventType.failed, None),
    "DMARCPolicy": (EventType.rejected, RejectReason.blocked),
    "TemplateRenderingFailed": (EventType.failed, None),
}

_RECORD_TYPES: dict[str, tuple[EventType, RejectReason | None]] = {
    "Delivery": (EventType.delivered, None),
    "SpamComplaint": (EventType.complained, RejectReason.spam),
    "Open": (EventType.opened, None),
    "Click": (EventType.clicked, None),
}

# SubscriptionChange with SuppressSending=true: why the address is now suppressed.
_SUPPRESSION_REASONS: dict[str, tuple[EventType, RejectReason]] = {
    "HardBounce": (EventType.bounced, RejectReason.bounced),
    "SpamComplaint": (EventType.complained, RejectReason.spam),
    "ManualSuppression": (EventType.unsubscribed, RejectReason.unsubscribed),
}

_TIME_FIELDS = ("DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt")


def parse(body: bytes, headers: Mapping[str, str]) -> list[DeliveryEvent]:
    """The one event of a Postmark webhook request (already verified)."""
    document = load_json(body, "Postmark")
    if isinstance(document, dict) and "RecordType" not in document and "FromFull" in document:
        raise WebhookError(
            "this is Postmark's inbound-message webhook; point this URL at the "
            "delivery, bounce, open, click or subscription-change webhook"
        )
    if not isinstance(document, dict):
        raise WebhookError("Postmark sends one JSON object per request; this body is not one")
    (item,) = event_objects(document, "Postmark", "RecordType")
    return [_event(item, headers)]


def _event(item: Mapping[str, Any], headers: Mapping[str, str]) -> DeliveryEvent:
    kind, reason = _classify(item)
    timestamp = next((item[name] for name in _TIME_FIELDS if item.get(name)), None)
    # Bounces carry an ID; every request carries a trace id that stays the same when
    # Postmark retries it (postmark-skills: dedupe on X-PM-Webhook-Trace-Id).
    event_id = text(item.get("ID")) or text(headers.get("x-pm-webhook-trace-id"))
    return new_event(
        provider="postmark",
        type=kind,
        message_id=text(item.get("MessageID")) or text(item.get("MessageId")),
        recipient=text(item.get("Email")) or text(item.get("Recipient")),
        timestamp=from_iso(timestamp, "Postmark"),
        event_id=event_id,
        reject_reason=reason,
        description=text(item.get("Description")),
        mta_response=text(item.get("Details")),
        tags=string_tuple(item.get("Tag")),
        metadata=string_map(item.get("Metadata")),
        click_url=text(item.get("OriginalLink")),
        user_agent=text(item.get("UserAgent")),
        raw=item,
    )


def _classify(item: Mapping[str, Any]) -> tuple[EventType, RejectReason | None]:
    record_type = item["RecordType"]
    if record_type == "Bounce":
        return _BOUNCE_TYPES.get(str(item.get("Type")), (EventType.unknown, None))
    if record_type == "SubscriptionChange":
        if item.get("SuppressSending") is False:
            return EventType.subscribed, None
        return _SUPPRESSION_REASONS.get(
            str(item.get("SuppressionReason")),
            (EventType.unsubscribed, RejectReason.other),
        )
    return _RECORD_TYPES.get(record_type, (EventType.unknown, None))
