"""Mailtrap's sending webhooks: ``{"events": [...]}`` as JSON, or JSON Lines (one event
object per line), as chosen per webhook. The Email Testing sandbox sends none.

Events and fields: https://docs.mailtrap.io/email-api-smtp/advanced/webhooks (event
names contain literal spaces: ``soft bounce``); the mapping follows django-anymail
``webhooks/mailtrap.py``. ``custom_variables`` carries ``Message.metadata`` and
``category`` the one tag :class:`~unisend.transports.MailtrapTransport` sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._decode import (
    event_objects,
    from_unix,
    json_lines,
    load_json,
    string_map,
    string_tuple,
    text,
)
from ._model import DeliveryEvent, EventType, RejectReason, WebhookError, new_event

_TYPES: dict[str, tuple[EventType, RejectReason | None]] = {
    "delivery": (EventType.delivered, None),
    "open": (EventType.opened, None),
    "click": (EventType.clicked, None),
    "unsubscribe": (EventType.unsubscribed, RejectReason.unsubscribed),
    "spam": (EventType.complained, RejectReason.spam),
    "soft bounce": (EventType.deferred, None),
    "bounce": (EventType.bounced, RejectReason.bounced),
    "suspension": (EventType.deferred, None),
    "reject": (EventType.rejected, RejectReason.blocked),
}


def parse(body: bytes, headers: Mapping[str, str]) -> list[DeliveryEvent]:
    """The events of one Mailtrap webhook request (already verified)."""
    try:
        document: Any = load_json(body, "Mailtrap")
    except WebhookError:
        if not body.strip():
            raise
        document = list(json_lines(body, "Mailtrap"))
    if isinstance(document, dict) and "events" in document:
        document = document["events"]
        if not isinstance(document, list):
            raise WebhookError("Mailtrap's 'events' must be a JSON array")
    return [_event(item) for item in event_objects(document, "Mailtrap", "event")]


def _event(item: Mapping[str, Any]) -> DeliveryEvent:
    kind, reason = _TYPES.get(item["event"], (EventType.unknown, None))
    return new_event(
        provider="mailtrap",
        type=kind,
        message_id=text(item.get("message_id")),
        recipient=text(item.get("email")),
        timestamp=from_unix(item.get("timestamp"), "Mailtrap"),
        event_id=text(item.get("event_id")),
        reject_reason=reason,
        description=text(item.get("reason")),
        mta_response=text(item.get("response")),
        tags=string_tuple(item.get("category")),
        metadata=string_map(item.get("custom_variables")),
        click_url=text(item.get("url")),
        user_agent=text(item.get("user_agent")),
        raw=item,
    )
