"""RoundRobin: the smooth weighted rotation, moving on after a failure, cooldowns, and
many threads / many asyncio tasks through one router."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from unisend import (
    AllRoutesFailed,
    AsyncMailer,
    ConfigurationError,
    Message,
    MessageRejected,
    RetryPolicy,
    RoundRobin,
    SendResult,
)
from unisend.transports import MemoryTransport, ScriptedTransport

from .conftest import Deliver, FakeClock

Policy = Callable[..., RetryPolicy]


def memory(*names: str) -> list[MemoryTransport]:
    return [MemoryTransport(name=n) for n in names]


def sequence(router: RoundRobin, message: Message, count: int) -> str:
    return "".join(router.send(message).transport for _ in range(count))


def test_smooth_weighted_sequence_5_1_1(message: Message) -> None:
    router = RoundRobin(memory("a", "b", "c"), weights=[5, 1, 1])
    # nginx's smooth weighted round-robin: a a b a c a a, then again
    assert sequence(router, message, 21) == "aabacaa" * 3


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        (None, "abcabcabc"),
        ([1, 1, 1], "abcabcabc"),
        ([2, 1, 1], "abcaabca"),
        ([3, 2, 1], "abacbaabacba"),
    ],
)
def test_rotation_sequences(message: Message, weights: list[int] | None, expected: str) -> None:
    router = RoundRobin(memory("a", "b", "c"), weights=weights)
    assert sequence(router, message, len(expected)) == expected


async def test_async_rotation_matches_sync(message: Message) -> None:
    router = RoundRobin(memory("a", "b", "c"), weights=[5, 1, 1])
    got = "".join([(await router.asend(message)).transport for _ in range(7)])
    assert got == "aabacaa"


def test_failure_moves_on_to_the_next_route_and_cools_it(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    a = ScriptedTransport(["ok", "503", "ok"], name="a")
    b = ScriptedTransport(["ok"], name="b")
    c = ScriptedTransport(["ok"], name="c")
    router = RoundRobin([a, b, c], cooldown=30, _clock=clock)
    got = [deliver(router, message, policy_for(attempts=1)).transport for _ in range(6)]
    # a ok, b, c, a fails -> moves on (b), then a is skipped while cooling
    assert got == ["a", "b", "c", "b", "c", "b"]
    assert router.health()[0].state == "cooling" and a.calls == 2
    clock.advance(30)
    got = [deliver(router, message, policy_for(attempts=1)).transport for _ in range(3)]
    assert sorted(got) == ["a", "b", "c"] and a.calls == 3


def test_message_rejected_is_raised_and_nothing_cools(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    a = ScriptedTransport(["422", "ok"], name="a")
    b = ScriptedTransport(["ok"], name="b")
    router = RoundRobin([a, b], _clock=clock)
    with pytest.raises(MessageRejected):
        deliver(router, message, policy_for())
    assert b.calls == 0 and [h.state for h in router.health()] == ["healthy", "healthy"]
    assert deliver(router, message, policy_for()).transport == "b"
    assert deliver(router, message, policy_for()).transport == "a"


def test_every_route_failing_raises_all_routes_failed(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    a = ScriptedTransport(["500"], name="a")
    b = ScriptedTransport(["403"], name="b")
    router = RoundRobin([a, b], name="rr", _clock=clock)
    with pytest.raises(AllRoutesFailed) as caught:
        deliver(router, message, policy_for(attempts=2, backoff=0))
    assert [(e.transport, e.status_code) for e in caught.value.errors] == [
        ("a", 500),
        ("a", 500),
        ("b", 403),
    ]
    assert caught.value.transport == "rr"
    # every route cools now: the next send still tries the oldest failure (a)
    with pytest.raises(AllRoutesFailed) as again:
        deliver(router, message, policy_for(attempts=1))
    assert [e.transport for e in again.value.errors] == ["a"]


def test_reset_restarts_the_rotation(message: Message) -> None:
    router = RoundRobin(memory("a", "b", "c"), weights=[5, 1, 1])
    assert sequence(router, message, 3) == "aab"
    router.reset()
    assert sequence(router, message, 7) == "aabacaa"


@pytest.mark.parametrize(
    ("weights", "fragment"),
    [
        ([1], "1 weights given for 2 routes"),
        ([1, 0], "whole numbers >= 1"),
        ([1, 1.5], "whole numbers >= 1"),
        ([True, 1], "whole numbers >= 1"),
    ],
)
def test_bad_weights(weights: list[int], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        RoundRobin(memory("a", "b"), weights=weights)


def test_many_threads_get_exact_counts_per_route(message: Message) -> None:
    routes = memory("a", "b", "c")
    router = RoundRobin(routes, weights=[3, 2, 1])
    threads, per_thread = 16, 150  # 2400 sends = 400 full cycles of 6
    barrier = threading.Barrier(threads)
    results: list[SendResult] = []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        mine = [router.send(message) for _ in range(per_thread)]
        with lock:
            results.extend(mine)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(results) == 2400
    assert Counter(r.transport for r in results) == {"a": 1200, "b": 800, "c": 400}
    assert [len(r.outbox) for r in routes] == [1200, 800, 400]


def test_many_threads_with_faults_lose_nothing(message: Message) -> None:
    a = ScriptedTransport(["ok", "503", "ok", "401", "ok", "422"] * 200, name="a")
    b = ScriptedTransport(["ok"], name="b")
    router = RoundRobin([a, b], cooldown=0)
    outcomes: list[SendResult | Exception] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(100):
            try:
                outcome: SendResult | Exception = router.send(message)
            except MessageRejected as exc:
                outcome = exc
            with lock:
                outcomes.append(outcome)

    workers = [threading.Thread(target=work) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    delivered = [o for o in outcomes if isinstance(o, SendResult)]
    assert len(outcomes) == 800
    assert len(delivered) == len(a.sent) + len(b.sent)
    assert len(outcomes) - len(delivered) == a.script[: a.calls].count("422")


class SlowMemory(MemoryTransport):
    """Yields to the event loop mid-send, so the tasks really interleave."""

    async def asend(self, message: Message) -> SendResult:
        await asyncio.sleep(0)
        return await super().asend(message)


async def test_asyncio_gather_of_many_sends(message: Message) -> None:
    routes = [SlowMemory(name=n) for n in "abc"]
    router = RoundRobin(routes, weights=[5, 1, 1])
    results = await asyncio.gather(*(router.asend(message) for _ in range(700)))
    assert Counter(r.transport for r in results) == {"a": 500, "b": 100, "c": 100}
    assert sum(len(r.outbox) for r in routes) == 700


async def test_asyncio_gather_with_failover_and_faults(
    message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    a = ScriptedTransport(["ok", "503", "429:1", "ok", "timeout"] * 100, name="a")
    b = ScriptedTransport(["ok", "reset"] * 300, name="b")
    c = ScriptedTransport(["ok"], name="c")
    router = RoundRobin([a, b, c], cooldown=5, _clock=clock)
    mailer = AsyncMailer(router, retry=policy_for(attempts=2))
    results = await asyncio.gather(
        *(mailer.send(message) for _ in range(400)), return_exceptions=True
    )
    delivered = [r for r in results if isinstance(r, SendResult)]
    assert len(delivered) == 400  # c never fails, so every send ends somewhere
    ambiguous = sum(a.ambiguous for r in delivered for a in r.attempts)
    assert len(a.sent) + len(b.sent) + len(c.sent) == 400 + ambiguous
