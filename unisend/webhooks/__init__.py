"""Delivery events: each provider's webhook request, verified, as one event type.

>>> from unisend.webhooks import parse_events
>>> events = parse_events(
...     "postmark",
...     b'{"RecordType": "Delivery", "MessageID": "2706ee8a", "Recipient": "a@example.com",'
...     b' "DeliveredAt": "2026-01-02T03:04:05.1234567Z"}',
...     {"Authorization": "Basic dXNlcjpwYXNz"},
...     basic_auth="user:pass",
... )
>>> events[0].type, events[0].message_id
(<EventType.delivered: 'delivered'>, '2706ee8a')

One module per provider (:mod:`~unisend.webhooks.sendgrid`, ``postmark``, ``mailjet``,
``brevo``, ``mailtrap``) turns its JSON into :class:`DeliveryEvent`; ``_verify`` checks
signatures and credentials over the raw bytes; ``_receiver`` ties them together. The
Django and Flask views are :func:`unisend.contrib.django.webhook_view` and
:func:`unisend.contrib.flask.webhook_view`. SendGrid's signature check needs
``pip install 'unisend[webhooks]'`` (``cryptography``); nothing else here does.
"""

from __future__ import annotations

from ._model import DeliveryEvent, EventType, RejectReason, WebhookAuthError, WebhookError
from ._receiver import parse_events

__all__ = [
    "DeliveryEvent",
    "EventType",
    "RejectReason",
    "WebhookAuthError",
    "WebhookError",
    "parse_events",
]
