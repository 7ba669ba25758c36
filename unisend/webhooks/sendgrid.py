"""SendGrid's Event Webhook: a JSON array of events per POST, always batched.

Event names and fields: django-anymail ``webhooks/sendgrid.py`` and SendGrid's Event
Webhook Reference. Top-level keys that are not SendGrid's own are the message's
``custom_args``, where :class:`~unisend.transports.SendGridTransport` puts
``Message.metadata``; ``category`` carries ``Message.tags``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ._decode import event_objects, from_unix, load_json, string_tuple, text_fields
from ._model import DeliveryEvent, EventType, RejectReason, WebhookError, new_event

_TYPES = {
    "processed": EventType.queued,
    "dropped": EventType.rejected,
    "delivered": EventType.delivered,
    "deferred": EventType.deferred,
    "bounce": EventType.bounced,
    "open": EventType.opened,
    "click": EventType.clicked,
    "spamreport": EventType.complained,
    "unsubscribe": EventType.unsubscribed,
    "group_unsubscribe": EventType.unsubscribed,
    "group_resubscribe": EventType.subscribed,
}

# Keys SendGrid sets itself; every other top-level key is a custom arg (metadata).
_OWN_KEYS = frozenset(
    {
        "email",
        "event",
        "timestamp",
        "smtp-id",
        "category",
        "reason",
        "response",
        "status",
        "type",
        "attempt",
        "url",
        "url_offset",
        "useragent",
        "ip",
        "tls",
        "cert_err",
        "asm_group_id",
        "pool",
        "send_at",
        "bounce_classification",
        # the usual sg_ and marketing_campaign_ keys, so the prefix test below rarely runs
        "sg_event_id",
        "sg_message_id",
        "sg_machine_open",
        "sg_template_id",
        "sg_template_name",
        "sg_content_type",
        "marketing_campaign_id",
        "marketing_campaign_name",
    }
)
_OWN_PREFIXES = ("sg_", "marketing_campaign")

_YEAR_3000 = 32503680000  # Unix seconds: below it, fromtimestamp cannot fail

# A dropped message's cause, from its "reason"/"type" ("Bounced Address", "Invalid", ...).
_DROP_REASONS = (
    ("unsubscribed", RejectReason.unsubscribed),
    ("bounced", RejectReason.bounced),
    ("spam", RejectReason.spam),
    ("invalid", RejectReason.invalid),
    ("expired", RejectReason.timed_out),
    ("blocked", RejectReason.blocked),
)


def parse(body: bytes, headers: Mapping[str, str]) -> list[DeliveryEvent]:
    """The events of one SendGrid Event Webhook request (already verified)."""
    document = load_json(body, "SendGrid")
    if not isinstance(document, list):
        raise WebhookError(
            "SendGrid sends a JSON array of events; this body is not one "
            "(is this the Event Webhook, not Inbound Parse?)"
        )
    return [_event(item) for item in event_objects(document, "SendGrid", "event")]


_UNKNOWN = EventType.unknown
_TEXT_FIELDS = ("email", "sg_event_id", "reason", "response", "url", "useragent")
_REASON_EVENTS = frozenset({"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"})


def _event(item: Mapping[str, Any]) -> DeliveryEvent:
    # The hot path of a 1,000-event batch: one pass over the text fields, the usual
    # shapes of timestamp and sg_message_id inline (see benchmarks/webhooks.py). The send
    # returns X-Message-Id, which is sg_message_id before its first "." (sendgrid-nodejs#412).
    email, event_id, reason, response, url, useragent = text_fields(item, _TEXT_FIELDS)
    name = item["event"]
    timestamp = item.get("timestamp")
    sg_message_id = item.get("sg_message_id")
    return new_event(
        provider="sendgrid",
        type=_TYPES.get(name, _UNKNOWN),
        message_id=(
            sg_message_id.partition(".")[0] or None
            if type(sg_message_id) is str and sg_message_id
            else _from_smtp_id(item.get("smtp-id"))
        ),
        recipient=email,
        timestamp=(
            datetime.fromtimestamp(timestamp, timezone.utc)
            if type(timestamp) is int and 0 <= timestamp < _YEAR_3000
            else from_unix(timestamp, "SendGrid")
        ),
        event_id=event_id,
        reject_reason=_reject_reason(name, item) if name in _REASON_EVENTS else None,
        description=reason,
        mta_response=response or (reason if name == "bounce" else None),
        tags=string_tuple(item.get("category")),
        metadata=_custom_args(item),
        click_url=url,
        user_agent=useragent,
        raw=item,
    )


def _custom_args(item: Mapping[str, Any]) -> dict[str, str]:
    """The top-level keys that are not SendGrid's own: the message's custom_args."""
    args = {}
    for key in item.keys() - _OWN_KEYS:
        if not key.startswith(_OWN_PREFIXES):
            value = item[key]
            args[key] = value if type(value) is str else json.dumps(value)
    return args


def _from_smtp_id(smtp_id: Any) -> str | None:
    """The local part of ``smtp-id`` (``<id@host>``): the send's X-Message-Id when an
    event carries no sg_message_id."""
    if type(smtp_id) is str and smtp_id:
        return smtp_id.strip().strip("<>").partition("@")[0] or None
    return None


def _reject_reason(name: str, item: Mapping[str, Any]) -> RejectReason | None:
    if name == "bounce":
        return RejectReason.blocked if item.get("type") == "blocked" else RejectReason.bounced
    if name == "dropped":
        cause = f"{item.get('type') or ''} {item.get('reason') or ''}".lower()
        for word, reason in _DROP_REASONS:
            if word in cause:
                return reason
        return RejectReason.other
    if name == "spamreport":
        return RejectReason.spam
    if name in ("unsubscribe", "group_unsubscribe"):
        return RejectReason.unsubscribed
    return None
