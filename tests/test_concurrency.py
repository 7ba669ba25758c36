"""``send_many`` on both mailers: bounded concurrency, input order, failures in place,
retry per message, and provider batch endpoints (the last against the loopback stub)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence

import pytest
from servers.http import HttpStub, http_stub  # noqa: F401  (fixture)
from servers.http import stub as stub  # (fixture)

from unisend import (
    AsyncMailer,
    ConfigurationError,
    InvalidMessage,
    Mailer,
    Message,
    MessageRejected,
    RateLimited,
    RetryPolicy,
    SendError,
    SendResult,
    TransientError,
)
from unisend.transports import MemoryTransport, PostmarkTransport, SendGridTransport
from unisend.transports.base import Transport

MakeMessage = Callable[..., Message]


class SlowTransport(Transport):
    """Takes ``delay`` seconds per message and counts how many are in flight at once.

    A subject starting with ``reject`` is refused; ``flaky`` fails with a TransientError
    on its first try only; ``boom`` raises a bug (not a SendError).
    """

    default_name = "slow"

    def __init__(self, delay: float = 0.01) -> None:
        super().__init__()
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.calls: list[str] = []
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def _enter(self, message: Message) -> None:
        with self._lock:
            self.calls.append(message.subject)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.threads.add(threading.get_ident())

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _outcome(self, message: Message) -> SendResult:
        subject = message.subject
        if subject.startswith("reject"):
            raise MessageRejected(f"refused {subject}", transport=self.name, status_code=422)
        if subject.startswith("flaky") and self.calls.count(subject) == 1:
            raise TransientError(f"try again {subject}", transport=self.name, status_code=503)
        if subject.startswith("boom"):
            raise RuntimeError("a bug in the transport")
        return SendResult(message_id=f"id-{subject}", transport=self.name)

    def send(self, message: Message) -> SendResult:
        self._enter(message)
        try:
            time.sleep(self.delay)
            return self._outcome(message)
        finally:
            self._leave()

    async def asend(self, message: Message) -> SendResult:
        self._enter(message)
        try:
            await asyncio.sleep(self.delay)
            return self._outcome(message)
        finally:
            self._leave()


class FakeBatchTransport(Transport):
    """A transport with a batch endpoint of ``batch_limit`` messages; records every batch.

    ``flaky`` subjects fail with RateLimited(retry_after=2) in the first batch that
    carries them; ``reject`` subjects are refused.
    """

    default_name = "batcher"
    batch_limit = 3

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []
        self.singles: list[str] = []

    def send(self, message: Message) -> SendResult:
        self.singles.append(message.subject)
        return SendResult(message_id=f"single-{message.subject}", transport=self.name)

    def _batch(self, messages: Sequence[Message]) -> list[SendResult | SendError]:
        seen = [subject for batch in self.batches for subject in batch]
        self.batches.append([message.subject for message in messages])
        outcomes: list[SendResult | SendError] = []
        for message in messages:
            subject = message.subject
            if subject.startswith("flaky") and subject not in seen:
                outcomes.append(RateLimited("slow down", status_code=429, retry_after=2.0))
            elif subject.startswith("reject"):
                outcomes.append(MessageRejected("bad address", status_code=422))
            else:
                outcomes.append(SendResult(message_id=f"batch-{subject}", transport=self.name))
        return outcomes

    def send_many(self, messages: Sequence[Message]) -> list[SendResult | SendError]:
        return self._batch(messages)

    async def asend_many(self, messages: Sequence[Message]) -> list[SendResult | SendError]:
        return self._batch(messages)


def _messages(make_message: MakeMessage, subjects: Sequence[str]) -> list[Message]:
    return [make_message(subject=subject) for subject in subjects]


def _ids(results: Sequence[SendResult | SendError]) -> list[str | None]:
    return [r.message_id if isinstance(r, SendResult) else type(r).__name__ for r in results]


def _no_wait_policy(waits: list[float], attempts: int = 3) -> RetryPolicy:
    async def async_sleep(seconds: float) -> None:
        waits.append(seconds)

    return RetryPolicy(
        attempts=attempts, backoff=0.5, jitter=False, sleep=waits.append, async_sleep=async_sleep
    )


# ---------------------------------------------------------------- async


async def test_async_send_many_never_exceeds_concurrency(make_message: MakeMessage) -> None:
    transport = SlowTransport(delay=0.01)
    subjects = [f"m{i}" for i in range(40)]
    async with AsyncMailer(transport) as mailer:
        results = await mailer.send_many(_messages(make_message, subjects), concurrency=8)
    assert transport.max_in_flight == 8
    assert _ids(results) == [f"id-m{i}" for i in range(40)]


async def test_async_send_many_defaults_to_32_in_flight(make_message: MakeMessage) -> None:
    transport = SlowTransport(delay=0.02)
    subjects = [f"m{i}" for i in range(70)]
    results = await AsyncMailer(transport).send_many(_messages(make_message, subjects))
    assert transport.max_in_flight == 32
    assert len(results) == 70


async def test_async_send_many_overlaps_slow_sends(make_message: MakeMessage) -> None:
    transport = SlowTransport(delay=0.05)
    started = time.monotonic()
    await AsyncMailer(transport).send_many(
        _messages(make_message, [f"m{i}" for i in range(20)]), concurrency=20
    )
    # one after the other this would take 20 x 50 ms = 1 s
    assert time.monotonic() - started < 0.5


async def test_async_send_many_keeps_order_and_failures_in_place(
    make_message: MakeMessage,
) -> None:
    transport = SlowTransport(delay=0.001)
    subjects = ["a", "reject-b", "c", "flaky-d", "reject-e", "f"]
    waits: list[float] = []
    mailer = AsyncMailer(transport, retry=_no_wait_policy(waits))
    results = await mailer.send_many(_messages(make_message, subjects), concurrency=3)
    assert _ids(results) == [
        "id-a",
        "MessageRejected",
        "id-c",
        "id-flaky-d",
        "MessageRejected",
        "id-f",
    ]
    rejected = results[1]
    assert isinstance(rejected, MessageRejected) and "reject-b" in str(rejected)
    # retry applies per message: flaky-d was tried twice, with one backoff wait
    flaky = results[3]
    assert isinstance(flaky, SendResult)
    assert [a.error is None for a in flaky.attempts] == [False, True]
    assert transport.calls.count("flaky-d") == 2
    assert waits == [0.5]
    # MessageRejected is not retried
    assert transport.calls.count("reject-b") == 1


async def test_async_send_many_bug_cancels_the_rest_and_raises(
    make_message: MakeMessage,
) -> None:
    transport = SlowTransport(delay=0.01)
    subjects = ["boom", *[f"m{i}" for i in range(50)]]
    with pytest.raises(RuntimeError, match="a bug in the transport"):
        await AsyncMailer(transport).send_many(_messages(make_message, subjects), concurrency=2)
    await asyncio.sleep(0.03)
    assert transport.in_flight == 0
    assert len(transport.calls) < 10  # the other worker stopped instead of sending all


async def test_async_send_many_empty_list() -> None:
    assert await AsyncMailer(MemoryTransport()).send_many([]) == []


# ---------------------------------------------------------------- sync


def test_sync_send_many_is_sequential_in_the_calling_thread_by_default(
    make_message: MakeMessage,
) -> None:
    transport = SlowTransport(delay=0.001)
    with Mailer(transport) as mailer:
        results = mailer.send_many(_messages(make_message, [f"m{i}" for i in range(10)]))
    assert transport.max_in_flight == 1
    assert transport.threads == {threading.get_ident()}
    assert _ids(results) == [f"id-m{i}" for i in range(10)]


def test_sync_send_many_threads_bounded_by_concurrency(make_message: MakeMessage) -> None:
    transport = SlowTransport(delay=0.02)
    subjects = [f"m{i}" for i in range(24)]
    subjects[5] = "reject-5"
    with Mailer(transport) as mailer:
        results = mailer.send_many(_messages(make_message, subjects), concurrency=4)
    assert transport.max_in_flight == 4
    assert threading.get_ident() not in transport.threads
    expected = [f"id-m{i}" for i in range(24)]
    expected[5] = "MessageRejected"
    assert _ids(results) == expected


def test_sync_send_many_retries_per_message(make_message: MakeMessage) -> None:
    transport = SlowTransport(delay=0)
    waits: list[float] = []
    mailer = Mailer(transport, retry=_no_wait_policy(waits))
    results = mailer.send_many(_messages(make_message, ["flaky-x", "y"]), concurrency=2)
    assert _ids(results) == ["id-flaky-x", "id-y"]
    assert transport.calls.count("flaky-x") == 2
    assert waits == [0.5]


def test_sync_send_many_bug_propagates(make_message: MakeMessage) -> None:
    transport = SlowTransport(delay=0.001)
    with pytest.raises(RuntimeError, match="a bug"):
        Mailer(transport).send_many(_messages(make_message, ["a", "boom", "c"]), concurrency=2)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "4"])
def test_bad_concurrency_is_a_configuration_error_before_any_send(
    make_message: MakeMessage, bad: object
) -> None:
    transport = MemoryTransport()
    with pytest.raises(ConfigurationError, match="concurrency"):
        Mailer(transport).send_many([make_message()], concurrency=bad)  # type: ignore[arg-type]
    assert transport.outbox == []


async def test_bad_concurrency_async(make_message: MakeMessage) -> None:
    transport = MemoryTransport()
    with pytest.raises(ConfigurationError, match="whole number >= 1"):
        await AsyncMailer(transport).send_many([make_message()], concurrency=0)
    assert transport.outbox == []


async def test_invalid_message_raises_before_anything_is_sent(
    make_message: MakeMessage,
) -> None:
    transport = MemoryTransport()
    no_sender = make_message(sender=None)
    with pytest.raises(InvalidMessage, match="no sender"):
        await AsyncMailer(transport).send_many([make_message(), no_sender])
    with pytest.raises(InvalidMessage, match="no sender"):
        Mailer(transport).send_many([make_message(), no_sender], concurrency=4)
    assert transport.outbox == []


# ---------------------------------------------------------------- batch endpoints


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_batch_transport_gets_batches_and_retries_failures_as_a_batch(
    make_message: MakeMessage, mode: str
) -> None:
    transport = FakeBatchTransport()
    subjects = ["a", "flaky-b", "c", "reject-d", "e", "flaky-f", "g"]
    waits: list[float] = []
    policy = _no_wait_policy(waits)
    messages = _messages(make_message, subjects)
    if mode == "sync":
        results = Mailer(transport, retry=policy).send_many(messages, concurrency=4)
    else:
        results = await AsyncMailer(transport, retry=policy).send_many(messages)
    assert transport.singles == []
    # the transport chunks; the mailer hands it the list, then the retryable ones again
    assert transport.batches == [subjects, ["flaky-b", "flaky-f"]]
    assert waits == [2.0]  # the provider's Retry-After, once for the whole retry batch
    assert _ids(results) == [
        "batch-a",
        "batch-flaky-b",
        "batch-c",
        "MessageRejected",
        "batch-e",
        "batch-flaky-f",
        "batch-g",
    ]
    flaky = results[1]
    assert isinstance(flaky, SendResult)
    assert [type(a.error).__name__ for a in flaky.attempts] == ["RateLimited", "NoneType"]
    assert [a.transport for a in flaky.attempts] == ["batcher", "batcher"]
    rejected = results[3]
    assert isinstance(rejected, MessageRejected) and rejected.transport == "batcher"


def test_batch_retry_stops_after_the_policy_attempts(make_message: MakeMessage) -> None:
    class AlwaysBusy(FakeBatchTransport):
        def send_many(self, messages: Sequence[Message]) -> list[SendResult | SendError]:
            self.batches.append([m.subject for m in messages])
            return [TransientError("busy", status_code=503) for _ in messages]

    transport = AlwaysBusy()
    waits: list[float] = []
    results = Mailer(transport, retry=_no_wait_policy(waits, attempts=3)).send_many(
        _messages(make_message, ["a", "b"])
    )
    assert len(transport.batches) == 3
    assert waits == [0.5, 1.0]  # exponential backoff without jitter
    assert all(isinstance(r, TransientError) for r in results)


def test_postmark_send_many_uses_the_batch_endpoint(
    stub: HttpStub, make_message: MakeMessage
) -> None:
    transport = PostmarkTransport(server_token="token", base_url=stub.url)
    messages = _messages(make_message, [f"m{i}" for i in range(1201)])
    with Mailer(transport) as mailer:
        results = mailer.send_many(messages)
    assert all(isinstance(r, SendResult) and r.message_id for r in results)
    assert len({r.message_id for r in results if isinstance(r, SendResult)}) == 1201
    stats = stub.stats()
    assert stats["by_route"] == {"postmark_batch": 3}  # 500 + 500 + 201
    assert stats["messages"] == 1201


async def test_async_sendgrid_send_many_against_the_stub(
    stub: HttpStub, make_message: MakeMessage
) -> None:
    transport = SendGridTransport(api_key="key", base_url=stub.url)
    async with AsyncMailer(transport) as mailer:
        results = await mailer.send_many(
            _messages(make_message, [f"m{i}" for i in range(100)]), concurrency=16
        )
    assert all(isinstance(r, SendResult) and r.message_id for r in results)
    assert stub.stats()["messages"] == 100


@pytest.mark.parametrize("concurrency", [1, 4])
def test_send_many_checks_provider_limits_before_sending_any(concurrency: int) -> None:
    """A message the route cannot carry (Postmark: one tag) stops the batch before I/O,
    through a router too."""
    import respx

    from unisend import Failover, InvalidMessage, Mailer, Message
    from unisend.transports import MemoryTransport, PostmarkTransport

    memory = MemoryTransport()
    router = Failover([memory, PostmarkTransport(server_token="t", base_url="http://127.0.0.1:9")])
    good = Message(sender="a@example.com", to="b@example.com", text="x")
    bad = Message(sender="a@example.com", to="b@example.com", text="x", tags=["one", "two"])
    with respx.mock(assert_all_called=False) as mock, pytest.raises(InvalidMessage, match="tag"):
        Mailer(router).send_many([good, bad], concurrency=concurrency)
    assert memory.outbox == []
    assert not mock.calls
