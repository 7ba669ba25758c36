"""Mailjet's Event API: one JSON object per POST, or an array of the last second's
events when the callback was registered with ``Version: 2`` ("group events").

Events and fields: mailjet/api-documentation ``guides/_event-api.md``. ``Payload``
carries ``Message.metadata`` (sent as ``EventPayload`` JSON) and ``customcampaign`` the
one tag (sent as ``CustomCampaign``). ``MessageID`` is a 64-bit number: Python's
``json`` keeps it exact, and it is compared as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._decode import event_objects, from_unix, json_string_map, load_json, string_tuple, text
from ._model import DeliveryEvent, EventType, RejectReason, new_event

_TYPES = {
    "sent": EventType.delivered,  # Mailjet's "sent" is the receiving server's acceptance
    "open": EventType.opened,
    "click": EventType.clicked,
    "bounce": EventType.bounced,
    "blocked": EventType.rejected,
    "spam": EventType.complained,
    "unsub": EventType.unsubscribed,
}

# The "error" strings of bounce/blocked events (Event API doc table; django-anymail).
_ERRORS = {
    "user unknown": RejectReason.bounced,
    "mailbox inactive": RejectReason.bounced,
    "quota exceeded": RejectReason.bounced,
    "invalid domain": RejectReason.invalid,
    "no mail host": RejectReason.invalid,
    "relay/access denied": RejectReason.blocked,
    "greylisted": RejectReason.timed_out,
    "sender blocked": RejectReason.blocked,
    "content blocked": RejectReason.spam,
    "policy issue": RejectReason.spam,
    "blacklisted": RejectReason.blocked,
    "spam reporter": RejectReason.spam,
    "preblocked": RejectReason.blocked,
    "duplicate in campaign": RejectReason.other,
    "system issue": RejectReason.other,
    "protocol issue": RejectReason.other,
    "connection issue": RejectReason.other,
}


def parse(body: bytes, headers: Mapping[str, str]) -> list[DeliveryEvent]:
    """The events of one Mailjet Event API request (already verified)."""
    document = load_json(body, "Mailjet")
    return [_event(item) for item in event_objects(document, "Mailjet", "event")]


def _event(item: Mapping[str, Any]) -> DeliveryEvent:
    name = item["event"]
    kind = _TYPES.get(name, EventType.unknown)
    error = text(item.get("error"))
    reason: RejectReason | None = None
    if name in ("bounce", "blocked"):
        reason = _ERRORS.get((error or "").lower(), RejectReason.other)
        if error == "greylisted" and not item.get("hard_bounce"):
            kind, reason = EventType.deferred, None
    elif name == "spam":
        reason = RejectReason.spam
    elif name == "unsub":
        reason = RejectReason.unsubscribed
    related = text(item.get("error_related_to"))
    return new_event(
        provider="mailjet",
        type=kind,
        message_id=text(item.get("MessageID")) or text(item.get("mj_message_id")),
        recipient=text(item.get("email")),
        timestamp=from_unix(item.get("time"), "Mailjet"),
        event_id=None,  # Mailjet gives none
        reject_reason=reason,
        description=f"{related}: {error}" if related and error else error,
        mta_response=text(item.get("smtp_reply")),
        tags=string_tuple(item.get("customcampaign")),
        metadata=json_string_map(item.get("Payload")),
        click_url=text(item.get("url")),
        user_agent=text(item.get("agent")),
        raw=item,
    )
