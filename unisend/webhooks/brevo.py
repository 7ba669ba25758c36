"""Brevo's transactional webhooks: one JSON object per POST, or an array when the
webhook was created with ``batched: true`` (5-minute windows, up to 500 events).

Events and fields: https://developers.brevo.com/docs/transactional-webhooks; the mapping
follows django-anymail ``webhooks/brevo.py``. ``message-id`` keeps its angle brackets,
as the send's ``messageId`` does; ``X-Mailin-custom`` carries ``Message.metadata`` (the
header :class:`~unisend.transports.BrevoTransport` sets) and ``tags`` the tags.
Only ``ts_epoch`` is UTC for sure (``date`` and ``ts`` follow the account's zone).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._decode import event_objects, from_unix, json_string_map, load_json, string_tuple, text
from ._model import DeliveryEvent, EventType, RejectReason, WebhookError, new_event

_TYPES: dict[str, tuple[EventType, RejectReason | None]] = {
    # "request" comes even for a message that will then be blocked: it is "queued".
    "request": (EventType.queued, None),
    "delivered": (EventType.delivered, None),
    "hard_bounce": (EventType.bounced, RejectReason.bounced),
    "soft_bounce": (EventType.bounced, RejectReason.bounced),
    "blocked": (EventType.rejected, RejectReason.blocked),
    "spam": (EventType.complained, RejectReason.spam),
    "complaint": (EventType.complained, RejectReason.spam),
    "invalid_email": (EventType.bounced, RejectReason.invalid),
    "deferred": (EventType.deferred, None),
    "opened": (EventType.opened, None),
    "unique_opened": (EventType.opened, None),
    "proxy_open": (EventType.opened, None),
    "unique_proxy_open": (EventType.opened, None),
    "click": (EventType.clicked, None),
    "unsubscribe": (EventType.unsubscribed, RejectReason.unsubscribed),
    "error": (EventType.failed, None),
}


def parse(body: bytes, headers: Mapping[str, str]) -> list[DeliveryEvent]:
    """The events of one Brevo webhook request (already verified)."""
    document = load_json(body, "Brevo")
    if isinstance(document, dict) and "items" in document and "event" not in document:
        raise WebhookError(
            "this is Brevo's inbound-parsing webhook; point this URL at a transactional "
            "(delivery-event) webhook"
        )
    return [_event(item) for item in event_objects(document, "Brevo", "event")]


def _event(item: Mapping[str, Any]) -> DeliveryEvent:
    kind, reason = _TYPES.get(item["event"], (EventType.unknown, None))
    if item.get("ts_epoch") is not None:
        timestamp = from_unix(item.get("ts_epoch"), "Brevo", scale=1000)
    else:  # ts_event is UTC seconds too; ts and date are in the account's zone
        timestamp = from_unix(item.get("ts_event"), "Brevo")
    return new_event(
        provider="brevo",
        type=kind,
        message_id=text(item.get("message-id")),
        recipient=text(item.get("email")),
        timestamp=timestamp,
        event_id=None,  # Brevo gives none ("id" is the webhook's id)
        reject_reason=reason,
        description=text(item.get("reason")),
        mta_response=text(item.get("reason")) if kind in _MTA_KINDS else None,
        tags=_tags(item),
        metadata=json_string_map(item.get("X-Mailin-custom")),
        click_url=text(item.get("link")),
        user_agent=text(item.get("user_agent")),
        raw=item,
    )


_MTA_KINDS = frozenset({EventType.bounced, EventType.deferred})


def _tags(item: Mapping[str, Any]) -> tuple[str, ...]:
    tags = string_tuple(item.get("tags"))
    if tags:
        return tags
    # "tag" is the JSON text of the tags list, an X-Mailin-Tag value, or a template name.
    tag = item.get("tag")
    if isinstance(tag, str) and tag.startswith("["):
        try:
            return string_tuple(json.loads(tag))
        except ValueError:
            pass
    return string_tuple(tag)
