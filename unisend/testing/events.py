"""``make_event``: build a :class:`~unisend.webhooks.DeliveryEvent` for your own tests.

Nothing sends webhooks to a ``memory://`` or ``sandbox://`` route, so code that reacts
to delivery events (a bounce handler, a Django ``delivery_event`` receiver) is tested by
building the event the provider would have sent:

>>> from unisend import Mailer, Message
>>> from unisend.testing import make_event
>>> message = Message(sender="a@example.com", to="b@example.com", subject="Hi",
...                   text="x", tags=["welcome"], metadata={"user": "42"})
>>> with Mailer.from_url("memory://") as mailer:
...     result = mailer.send(message)
>>> event = make_event("bounced", message=message, result=result, reject_reason="bounced")
>>> event.message_id == result.message_id, event.recipient, event.metadata
(True, 'b@example.com', {'user': '42'})
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..webhooks._model import DeliveryEvent, EventType, RejectReason

if TYPE_CHECKING:
    from .._message import Message
    from .._result import SendResult


def make_event(
    type: EventType | str = EventType.delivered,
    *,
    message: Message | None = None,
    result: SendResult | None = None,
    provider: str | None = None,
    message_id: str | None = None,
    recipient: str | None = None,
    timestamp: datetime | None = None,
    event_id: str | None = None,
    reject_reason: RejectReason | str | None = None,
    **fields: Any,
) -> DeliveryEvent:
    """A :class:`~unisend.webhooks.DeliveryEvent` as a provider would report it.

    ``type`` is an :class:`~unisend.webhooks.EventType` or its name. From ``message``
    come the recipient (the first ``to``), ``tags`` and ``metadata``; from ``result`` the
    ``message_id`` and ``provider`` (the route's name). Explicit keywords win; the
    timestamp defaults to now (UTC), ``event_id`` to a fresh UUID, ``provider`` to
    ``"memory"``. Other keywords (``description``, ``mta_response``, ``click_url``,
    ``user_agent``, ``raw``, ``tags``, ``metadata``) are passed on as they are.
    """
    kind = EventType(type)
    if timestamp is None:
        timestamp = datetime.now(timezone.utc)
    elif timestamp.tzinfo is None:
        raise ValueError("timestamp must be an aware datetime (webhook timestamps are UTC)")
    if message is not None:
        fields.setdefault("tags", tuple(message.tags))
        fields.setdefault("metadata", dict(message.metadata))
        if recipient is None and message.to:
            recipient = message.to[0].email
    fields["tags"] = tuple(fields.get("tags", ()))
    fields.setdefault("raw", {"event": kind.value})
    return DeliveryEvent(
        provider=provider or (result.transport if result is not None else "memory"),
        type=kind,
        message_id=message_id or (result.message_id if result is not None else None),
        recipient=recipient,
        timestamp=timestamp.astimezone(timezone.utc),
        event_id=event_id or uuid.uuid4().hex,
        reject_reason=None if reject_reason is None else RejectReason(reject_reason),
        **fields,
    )


__all__ = ["make_event"]
