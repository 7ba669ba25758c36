"""The normalized event model: :class:`DeliveryEvent`, :class:`EventType`,
:class:`RejectReason`, and the two errors a webhook request can raise.

The vocabulary is django-anymail's (``anymail.signals``), so its users feel at home.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TypedDict

from .._errors import UnisendError

if TYPE_CHECKING:
    from typing_extensions import Unpack


class EventType(str, Enum):
    """What happened to a message, normalized across providers."""

    queued = "queued"
    sent = "sent"
    rejected = "rejected"
    failed = "failed"
    bounced = "bounced"
    deferred = "deferred"
    delivered = "delivered"
    autoresponded = "autoresponded"
    opened = "opened"
    clicked = "clicked"
    complained = "complained"
    unsubscribed = "unsubscribed"
    subscribed = "subscribed"
    unknown = "unknown"

    def __str__(self) -> str:
        return self.value


class RejectReason(str, Enum):
    """Why a message was rejected or bounced, normalized across providers."""

    invalid = "invalid"
    bounced = "bounced"
    timed_out = "timed_out"
    blocked = "blocked"
    spam = "spam"
    unsubscribed = "unsubscribed"
    other = "other"

    def __str__(self) -> str:
        return self.value


class WebhookError(UnisendError):
    """A malformed webhook request (not JSON, not the provider's shape, over 10 MB):
    answer 400."""


class WebhookAuthError(WebhookError):
    """The webhook request failed verification (signature, basic auth, token): answer 401."""


@dataclass(frozen=True, kw_only=True)
class DeliveryEvent:
    """One event a provider reported about one message and one recipient.

    ``message_id`` equals the :attr:`unisend.SendResult.message_id` that unisend returned
    for the send, so events can be matched to sends; ``metadata`` and ``tags`` are the
    ones given on the :class:`~unisend.Message` (as far as the provider returns them);
    ``timestamp`` is an aware UTC datetime (``None`` only when the provider sent none);
    ``event_id`` is the provider's id for de-duplication (``None`` where it has none);
    ``raw`` is the provider's event as parsed from JSON.
    """

    provider: str
    type: EventType
    message_id: str | None = None
    recipient: str | None = None
    timestamp: datetime | None = None
    event_id: str | None = None
    reject_reason: RejectReason | None = None
    description: str | None = None
    mta_response: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict, hash=False)
    click_url: str | None = None
    user_agent: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, repr=False)


class EventFields(TypedDict):
    """Every field of :class:`DeliveryEvent`, for :func:`new_event`."""

    provider: str
    type: EventType
    message_id: str | None
    recipient: str | None
    timestamp: datetime | None
    event_id: str | None
    reject_reason: RejectReason | None
    description: str | None
    mta_response: str | None
    tags: tuple[str, ...]
    metadata: dict[str, str]
    click_url: str | None
    user_agent: str | None
    raw: Mapping[str, Any]


_new = object.__new__
_set = object.__setattr__


def new_event(**fields: Unpack[EventFields]) -> DeliveryEvent:
    """``DeliveryEvent(...)`` for the parsers, which build thousands per request. The
    frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; this
    makes the keyword dict (every field required, checked by mypy) the instance dict."""
    event: DeliveryEvent = _new(DeliveryEvent)
    _set(event, "__dict__", fields)
    return event


__all__ = ["DeliveryEvent", "EventType", "RejectReason", "WebhookAuthError", "WebhookError"]
