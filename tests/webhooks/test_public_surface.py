"""The public surface of unisend.webhooks as DESIGN.md names it, the lazy import, the
missing-extra message, and the ``unisend.testing.make_event`` helper."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from datetime import datetime, timezone

import pytest

import unisend.webhooks
from unisend import ConfigurationError, Mailer, Message, UnisendError
from unisend.testing import make_event
from unisend.webhooks import (
    DeliveryEvent,
    EventType,
    RejectReason,
    WebhookAuthError,
    WebhookError,
    parse_events,
)


def test_names_and_vocabulary() -> None:
    assert sorted(unisend.webhooks.__all__) == [
        "DeliveryEvent",
        "EventType",
        "RejectReason",
        "WebhookAuthError",
        "WebhookError",
        "parse_events",
    ]
    assert [e.value for e in EventType] == [
        "queued",
        "sent",
        "rejected",
        "failed",
        "bounced",
        "deferred",
        "delivered",
        "autoresponded",
        "opened",
        "clicked",
        "complained",
        "unsubscribed",
        "subscribed",
        "unknown",
    ]
    assert [r.value for r in RejectReason] == [
        "invalid",
        "bounced",
        "timed_out",
        "blocked",
        "spam",
        "unsubscribed",
        "other",
    ]
    assert EventType.delivered == "delivered" and str(EventType.delivered) == "delivered"
    assert issubclass(WebhookError, UnisendError) and issubclass(WebhookAuthError, WebhookError)


def test_delivery_event_fields_frozen_and_hashable() -> None:
    assert [f.name for f in dataclasses.fields(DeliveryEvent)] == [
        "provider",
        "type",
        "message_id",
        "recipient",
        "timestamp",
        "event_id",
        "reject_reason",
        "description",
        "mta_response",
        "tags",
        "metadata",
        "click_url",
        "user_agent",
        "raw",
    ]
    event = DeliveryEvent(provider="postmark", type=EventType.opened, metadata={"a": "b"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.message_id = "x"  # type: ignore[misc]
    twin = DeliveryEvent(provider="postmark", type=EventType.opened, metadata={"a": "b"})
    assert len({event, twin}) == 1  # hashable although metadata and raw are dicts


def test_parsed_events_are_frozen_and_equal_to_constructed_ones() -> None:
    body = b'{"event":"open","time":1,"email":"a@example.com","MessageID":7}'
    (parsed,) = parse_events("mailjet", body, {}, insecure=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.type = EventType.clicked  # type: ignore[misc]
    built = DeliveryEvent(**{f.name: getattr(parsed, f.name) for f in dataclasses.fields(parsed)})
    assert built == parsed and hash(built) == hash(parsed) and repr(built) == repr(parsed)
    # events can be queued (Celery, RQ): they pickle and copy like the dataclass they are
    assert pickle.loads(pickle.dumps(parsed)) == parsed
    assert dataclasses.replace(parsed, message_id="8").message_id == "8"


def run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_import_unisend_does_not_load_webhooks_and_webhooks_is_light() -> None:
    assert run("import sys, unisend; print('unisend.webhooks' in sys.modules)") == "False"
    loaded = run(
        "import sys, unisend.webhooks; "
        "print(sorted(m for m in ('cryptography', 'httpx', 'pydantic', 'django', 'flask') "
        "if m in sys.modules))"
    )
    assert loaded == "[]"
    # a provider module loads on first use only
    assert (
        run(
            "import sys; from unisend.webhooks import parse_events; "
            "parse_events('mailjet', b'[]', {}, insecure=True); "
            "print([m for m in sys.modules if m.startswith('unisend.webhooks.')])"
        )
        == "['unisend.webhooks._model', 'unisend.webhooks._decode', 'unisend.webhooks._verify', "
        "'unisend.webhooks._receiver', 'unisend.webhooks.mailjet']"
    )


def test_missing_cryptography_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.asymmetric", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'unisend\[webhooks\]'"):
        parse_events("sendgrid", b"[]", {}, verification_key="MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")


def test_make_event_from_a_memory_send() -> None:
    message = Message(
        sender="a@example.com",
        to=["Bob <bob@example.com>", "c@example.com"],
        subject="Hi",
        text="x",
        tags=["welcome"],
        metadata={"user": "42"},
    )
    with Mailer.from_url("memory://") as mailer:
        result = mailer.send(message)
    event = make_event(
        "bounced",
        message=message,
        result=result,
        reject_reason="bounced",
        mta_response="550 no such user",
    )
    assert event.type is EventType.bounced and event.reject_reason is RejectReason.bounced
    assert event.message_id == result.message_id and event.provider == "memory"
    assert (event.recipient, event.tags, event.metadata) == (
        "bob@example.com",
        ("welcome",),
        {"user": "42"},
    )
    assert event.mta_response == "550 no such user"
    assert event.timestamp is not None and event.timestamp.tzinfo is timezone.utc
    assert event.event_id and event.event_id != make_event(message=message).event_id


def test_make_event_explicit_fields_and_errors() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    event = make_event(
        EventType.clicked,
        provider="sendgrid",
        message_id="abc",
        recipient="x@example.com",
        timestamp=when,
        click_url="https://x.example",
        tags=["t"],
        event_id="e1",
    )
    assert (event.provider, event.message_id, event.timestamp, event.tags, event.event_id) == (
        "sendgrid",
        "abc",
        when,
        ("t",),
        "e1",
    )
    assert event.raw == {"event": "clicked"} and event.type == "clicked"
    with pytest.raises(ValueError):
        make_event("exploded")
    with pytest.raises(ValueError, match="aware"):
        make_event(timestamp=datetime(2026, 1, 2))
