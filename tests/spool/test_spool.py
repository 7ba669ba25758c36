"""The spool's behaviour, on SQLite and on a real PostgreSQL server alike."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timezone

import pytest

from unisend import (
    AsyncMailer,
    ConfigurationError,
    InvalidMessage,
    Mailer,
    Message,
    RetryPolicy,
    Spool,
    SpoolEntry,
)
from unisend.transports import MemoryTransport
from unisend.transports.scripted import ScriptedTransport

from .conftest import Clock

NO_RETRY = RetryPolicy(attempts=1, backoff=0)


def mailer_over(transport: object) -> Mailer:
    return Mailer(transport, retry=NO_RETRY)  # type: ignore[arg-type]


def test_put_is_queued_and_due_now(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message], clock: Clock
) -> None:
    spool = make_spool()
    entry = spool.put(make_message(subject="Order 1"))
    assert entry.state == "queued" and entry.attempts == 0
    assert entry.created_at.tzinfo is timezone.utc
    assert entry.created_at.timestamp() == pytest.approx(clock.now)
    assert entry.next_attempt_at == entry.created_at
    stored = spool.get(entry.id)
    assert stored is not None and stored.message == entry.message
    assert stored.message.subject == "Order 1"
    assert spool.counts() == {"queued": 1, "sending": 0, "sent": 0, "failed": 0}


def test_same_key_stores_once(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message]
) -> None:
    spool = make_spool()
    first = spool.put(make_message(subject="first"), key="order-42")
    again = spool.put(make_message(subject="second"), key="order-42")
    assert again.id == first.id and again.message.subject == "first"
    assert spool.counts()["queued"] == 1


def test_put_many_is_one_transaction_and_refuses_bad_input(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message]
) -> None:
    spool = make_spool()
    with pytest.raises(InvalidMessage, match=r"expects a unisend\.Message"):
        spool.put_many([make_message(), {"subject": "not a message"}])  # type: ignore[list-item]
    assert sum(spool.counts().values()) == 0
    entries = spool.put_many([make_message(subject=f"m{i}") for i in range(5)])
    assert len({entry.id for entry in entries}) == 5
    assert spool.counts()["queued"] == 5


def test_attachments_and_every_field_survive_the_store(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message]
) -> None:
    from unisend import Attachment

    message = make_message(
        cc=["Cé <ce@example.com>"],
        html="<p>hi</p>",
        headers={"X-Order": "42"},
        tags=["welcome"],
        metadata={"order": "42"},
        attachments=[Attachment("a.bin", bytes(range(256)), "application/octet-stream")],
    )
    spool = make_spool()
    entry = spool.put(message)
    stored = spool.get(entry.id)
    assert stored is not None and stored.message == message


def test_deliver_sends_and_records_the_route(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message]
) -> None:
    spool, memory = make_spool(), MemoryTransport()
    ids = [spool.put(make_message(subject=f"m{i}")).id for i in range(3)]
    report = spool.deliver(mailer_over(memory))
    assert (report.sent, report.deferred, report.failed) == (3, 0, 0)
    assert [m.subject for m in memory.outbox] == ["m0", "m1", "m2"]
    for entry_id in ids:
        entry = spool.get(entry_id)
        assert entry is not None and entry.state == "sent" and entry.transport == "memory"
        assert entry.message_id and entry.next_attempt_at is None and entry.attempts == 1
    assert spool.deliver(mailer_over(memory)).total == 0


def test_transient_failure_defers_by_the_schedule(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message], clock: Clock
) -> None:
    spool = make_spool(schedule=(60, 300))
    entry = spool.put(make_message())
    failing = ScriptedTransport(["503"])
    report = spool.deliver(mailer_over(failing))
    assert (report.sent, report.deferred, report.failed) == (0, 1, 0)
    deferred = spool.get(entry.id)
    assert deferred is not None and deferred.state == "queued" and deferred.attempts == 1
    assert deferred.next_attempt_at is not None
    wait = deferred.next_attempt_at.timestamp() - clock.now
    assert 54 <= wait <= 66  # 60 s +-10 %
    assert deferred.last_error and deferred.last_error.startswith("TransientError")
    # Not due yet: nothing is claimed.
    assert spool.deliver(mailer_over(failing)).total == 0
    clock.advance(67)
    assert spool.deliver(mailer_over(failing)).deferred == 1
    second = spool.get(entry.id)
    assert second is not None and second.next_attempt_at is not None
    assert 270 <= second.next_attempt_at.timestamp() - clock.now <= 330
    clock.advance(331)
    memory = MemoryTransport()
    assert spool.deliver(mailer_over(memory)).sent == 1
    final = spool.get(entry.id)
    assert final is not None and final.state == "sent" and final.attempts == 3
    assert [record["outcome"] for record in final.history] == ["deferred", "deferred", "sent"]


def test_rejection_fails_at_once_and_calls_on_failed(
    make_spool: Callable[..., Spool],
    make_message: Callable[..., Message],
    caplog: pytest.LogCaptureFixture,
) -> None:
    failed: list[SpoolEntry] = []
    spool = make_spool(on_failed=failed.append)
    entry = spool.put(make_message())
    with caplog.at_level(logging.WARNING, logger="unisend.spool"):
        report = spool.deliver(mailer_over(ScriptedTransport(["422"])))
    assert (report.sent, report.deferred, report.failed) == (0, 0, 1)
    assert [f.id for f in failed] == [entry.id] and failed[0].state == "failed"
    assert failed[0].last_error and "MessageRejected" in failed[0].last_error
    assert any(entry.id in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_a_raising_on_failed_hook_changes_nothing(
    make_spool: Callable[..., Spool],
    make_message: Callable[..., Message],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def hook(entry: SpoolEntry) -> None:
        raise RuntimeError("hook broke")

    spool = make_spool(on_failed=hook)
    entry = spool.put(make_message())
    with caplog.at_level(logging.ERROR, logger="unisend.spool"):
        assert spool.deliver(mailer_over(ScriptedTransport(["422"]))).failed == 1
    stored = spool.get(entry.id)
    assert stored is not None and stored.state == "failed"
    assert any("on_failed" in r.getMessage() for r in caplog.records)


def test_max_age_turns_a_deferral_into_failure(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message], clock: Clock
) -> None:
    failed: list[SpoolEntry] = []
    spool = make_spool(schedule=(60,), max_age=3600, on_failed=failed.append)
    entry = spool.put(make_message())
    failing = ScriptedTransport(["503"])
    assert spool.deliver(mailer_over(failing)).deferred == 1
    clock.advance(3601)
    assert spool.deliver(mailer_over(failing)).failed == 1
    stored = spool.get(entry.id)
    assert stored is not None and stored.state == "failed"
    assert stored.last_error and stored.last_error.startswith("gave up after 3600 s")
    assert [f.id for f in failed] == [entry.id]


def test_route_failure_defers(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message]
) -> None:
    spool = make_spool()
    spool.put(make_message())
    assert spool.deliver(mailer_over(ScriptedTransport(["401"]))).deferred == 1


def test_retry_purge_and_counts(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message], clock: Clock
) -> None:
    spool = make_spool()
    bad = spool.put(make_message(subject="bad"))
    spool.deliver(mailer_over(ScriptedTransport(["422"])))
    good = spool.put(make_message(subject="good"))
    spool.deliver(mailer_over(MemoryTransport()))
    assert spool.counts() == {"queued": 0, "sending": 0, "sent": 1, "failed": 1}
    with pytest.raises(ConfigurationError, match="only a failed entry"):
        spool.retry(good.id)
    with pytest.raises(ConfigurationError, match="no spool entry"):
        spool.retry("nope")
    again = spool.retry(bad.id)
    assert again.state == "queued" and again.next_attempt_at is not None
    assert spool.deliver(mailer_over(MemoryTransport())).sent == 1
    clock.advance(10)
    assert spool.purge(older_than=60) == 0
    assert spool.purge() == 2
    assert sum(spool.counts().values()) == 0


def test_an_expired_lease_is_claimed_again_and_counted_ambiguous(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message], clock: Clock
) -> None:
    spool = make_spool(lease=30)
    entry = spool.put(make_message())
    # A worker claims the entry and dies before recording anything.
    claimed = spool._claim(10)
    assert [row.id for row in claimed] == [entry.id]
    assert spool.counts()["sending"] == 1
    assert spool.deliver(mailer_over(MemoryTransport())).total == 0  # the lease holds
    clock.advance(31)
    memory = MemoryTransport()
    assert spool.deliver(mailer_over(memory)).sent == 1
    stored = spool.get(entry.id)
    assert stored is not None and stored.state == "sent" and stored.attempts == 2
    assert stored.history[0]["ambiguous"] is True
    assert stored.history[0]["outcome"] == "ambiguous"
    # The dead worker's late outcome no longer counts.
    assert spool._store.finish(claimed, clock.now) == [False]


def test_a_message_without_sender_fails_alone(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message]
) -> None:
    spool = make_spool()
    spool.put(make_message(sender=None, subject="no sender"))
    ok = spool.put(make_message(subject="fine"))
    memory = MemoryTransport()
    report = spool.deliver(Mailer(memory, retry=NO_RETRY), concurrency=2)
    assert (report.sent, report.failed) == (1, 1)
    assert [m.subject for m in memory.outbox] == ["fine"]
    stored = spool.get(ok.id)
    assert stored is not None and stored.state == "sent"


def test_limit_bounds_one_pass(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message]
) -> None:
    spool = make_spool()
    spool.put_many([make_message(subject=f"m{i}") for i in range(5)])
    assert spool.deliver(mailer_over(MemoryTransport()), limit=2, concurrency=4).sent == 2
    assert spool.counts()["queued"] == 3


def test_mailer_with_spool_queues_what_no_route_accepts(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message]
) -> None:
    spool = make_spool()
    mailer = Mailer(ScriptedTransport(["503"]), retry=NO_RETRY, spool=spool)
    result = mailer.send(make_message(subject="later"))
    assert result.queued and result.transport == "spool" and result.message_id is None
    assert result.spool_id is not None
    assert [a.transport for a in result.attempts] in ([], ["scripted"])
    entry = spool.get(result.spool_id)
    assert entry is not None and entry.message.subject == "later"
    # A rejection and an invalid message still raise, and store nothing.
    from unisend import MessageRejected

    with pytest.raises(MessageRejected):
        Mailer(ScriptedTransport(["422"]), retry=NO_RETRY, spool=spool).send(make_message())
    with pytest.raises(InvalidMessage):
        Mailer(MemoryTransport(), spool=spool).send(make_message(sender=None))
    assert spool.counts()["queued"] == 1
    # The worker delivers it later through a working route.
    memory = MemoryTransport()
    assert spool.deliver(mailer_over(memory)).sent == 1
    assert memory.outbox[0].subject == "later"


def test_mailer_send_many_spools_per_message(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message]
) -> None:
    spool = make_spool()
    mailer = Mailer(ScriptedTransport(["ok", "503", "422"]), retry=NO_RETRY, spool=spool)
    results = mailer.send_many([make_message(subject=f"m{i}") for i in range(3)])
    from unisend import MessageRejected, SendResult

    assert isinstance(results[0], SendResult) and not results[0].queued
    assert isinstance(results[1], SendResult) and results[1].queued
    assert isinstance(results[2], MessageRejected)
    queued = spool.entries()
    assert [e.message.subject for e in queued] == ["m1"]


async def test_async_mailer_and_adeliver(
    make_spool: Callable[..., Spool], make_message: Callable[..., Message]
) -> None:
    spool = make_spool()
    async with AsyncMailer(ScriptedTransport(["503"]), retry=NO_RETRY, spool=spool) as mailer:
        result = await mailer.send(make_message(subject="async"))
        results = await mailer.send_many([make_message(subject="async2")])
    assert result.queued and results[0].queued  # type: ignore[union-attr]
    memory = MemoryTransport()
    report = await spool.adeliver(AsyncMailer(memory, retry=NO_RETRY))
    assert report.sent == 2
    assert sorted(m.subject for m in memory.outbox) == ["async", "async2"]


def test_unknown_scheme_and_bad_options(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match="unknown spool scheme 'redis'"):
        Spool("redis://localhost/0")
    with pytest.raises(ConfigurationError, match="schedule"):
        Spool(str(tmp_path) + "/s.sqlite3", schedule=())
    spool = Spool(str(tmp_path) + "/s.sqlite3")
    with pytest.raises(ConfigurationError, match="unknown spool state"):
        spool.entries("bogus")
    spool.close()
