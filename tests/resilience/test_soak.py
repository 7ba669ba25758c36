"""The fault soak: three routes with 30 % random faults of every kind (seeded), about
1,000 sends each way. Nothing is lost and nothing is invented:

- every send ends as a SendResult or a raised SendError (delivered + raised == sent);
- 0 false successes: each SendResult's message was accepted by the route it names;
- copies of a message exist only where an attempt was marked ambiguous.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
from collections import Counter
from collections.abc import Callable

import pytest
from servers.http import start_stub

from unisend import (
    AllRoutesFailed,
    AsyncMailer,
    Attempt,
    Failover,
    Mailer,
    Message,
    MessageRejected,
    RetryPolicy,
    RoundRobin,
    SendError,
    SendResult,
)
from unisend.transports import (
    MailjetTransport,
    PostmarkTransport,
    ScriptedTransport,
    SendGridTransport,
)
from unisend.transports.base import Transport

from .conftest import FakeClock

pytestmark = pytest.mark.soak

SENDS = 1000
FAULTS = [
    "500",
    "503",
    "timeout",
    "reset",
    "refused",
    "429:0.5",
    "429:600",
    "401",
    "403",
    "422",
    "400",
]

#: The attempts of the send running in this thread / task (hooks read it).
current: contextvars.ContextVar[list[Attempt]] = contextvars.ContextVar("current")


def faulty_script(rng: random.Random, length: int, rate: float = 0.3) -> list[str]:
    return [rng.choice(FAULTS) if rng.random() < rate else "ok" for _ in range(length)]


def make_routes(seed: int) -> list[ScriptedTransport]:
    rng = random.Random(seed)
    return [ScriptedTransport(faulty_script(rng, 4 * SENDS), name=n) for n in ("a", "b", "c")]


def make_messages(make_message: Callable[..., Message], count: int) -> list[Message]:
    return [make_message(subject=f"soak {i}") for i in range(count)]


def check_books(
    routes: list[ScriptedTransport],
    messages: list[Message],
    outcomes: list[SendResult | SendError],
    trails: list[list[Attempt]],
) -> Counter[str]:
    """Assert the invariants; return a summary of what happened."""
    assert len(outcomes) == len(messages)
    by_name = {route.name: route for route in routes}
    copies: Counter[int] = Counter()
    for route in routes:
        for sent in route.sent:
            copies[id(sent)] += 1
    summary: Counter[str] = Counter()
    for message, outcome, trail in zip(messages, outcomes, trails, strict=True):
        ambiguous = sum(a.ambiguous for a in trail)
        summary["ambiguous attempts"] += ambiguous
        summary["tries"] += len(trail)
        if isinstance(outcome, SendResult):
            summary["delivered"] += 1
            # no false success: the named route really holds this very message
            assert any(m is message for m in by_name[outcome.transport].sent)
            assert list(outcome.attempts) == trail
            assert outcome.attempts[-1].error is None
            assert all(a.error is not None for a in outcome.attempts[:-1])
            expected = 1 + ambiguous
        else:
            assert isinstance(outcome, (AllRoutesFailed, MessageRejected)), outcome
            summary[f"raised {type(outcome).__name__}"] += 1
            if isinstance(outcome, AllRoutesFailed):
                assert outcome.errors == [a.error for a in trail]
            expected = ambiguous
        # duplicates only where an attempt was marked ambiguous
        assert copies[id(message)] == expected
        summary["duplicates"] += max(0, copies[id(message)] - 1)
    assert summary["delivered"] + sum(
        v for k, v in summary.items() if k.startswith("raised")
    ) == len(messages)
    return summary


def policy(clock: FakeClock) -> RetryPolicy:
    return RetryPolicy(
        attempts=3,
        backoff=0.2,
        max_retry_after=60,
        sleep=clock.sleep,
        async_sleep=clock.async_sleep,
        clock=clock,
    )


def router_over(routes: list[Transport], clock: FakeClock, kind: str) -> Transport:
    record = lambda attempt: current.get().append(attempt)  # noqa: E731
    if kind == "failover":
        return Failover(routes, cooldown=3, on_attempt=record, _clock=clock)
    return RoundRobin(routes, weights=[3, 2, 1], cooldown=3, on_attempt=record, _clock=clock)


@pytest.mark.parametrize("kind", ["failover", "roundrobin"])
def test_soak_scripted_sync(make_message: Callable[..., Message], kind: str) -> None:
    clock = FakeClock()
    routes = make_routes(seed=20261127)
    router = router_over(list(routes), clock, kind)
    messages = make_messages(make_message, SENDS)
    outcomes: list[SendResult | SendError] = []
    trails: list[list[Attempt]] = []
    for message in messages:
        trail: list[Attempt] = []
        current.set(trail)
        clock.advance(1.0)
        try:
            outcomes.append(Mailer(router, retry=policy(clock)).send(message))
        except SendError as error:
            outcomes.append(error)
        trails.append(trail)
    summary = check_books(routes, messages, outcomes, trails)
    # the faults really happened, of every kind, and the routing coped with most
    assert summary["delivered"] > 0.9 * SENDS
    assert summary["raised MessageRejected"] > 0 and summary["ambiguous attempts"] > 0
    assert summary["duplicates"] > 0
    played = Counter(e for r in routes for e in r.script[: r.calls])
    assert {f.split(":")[0] for f in FAULTS} <= {e.split(":")[0] for e in played}


@pytest.mark.parametrize("kind", ["failover", "roundrobin"])
async def test_soak_scripted_async_gather(make_message: Callable[..., Message], kind: str) -> None:
    clock = FakeClock()
    routes = make_routes(seed=7)
    router = router_over(list(routes), clock, kind)
    messages = make_messages(make_message, SENDS)
    trails: list[list[Attempt]] = [[] for _ in messages]

    async def one(i: int) -> SendResult | SendError:
        current.set(trails[i])  # each task has its own context
        clock.advance(0.01)
        try:
            return await AsyncMailer(router, retry=policy(clock)).send(messages[i])
        except SendError as error:
            return error

    outcomes: list[SendResult | SendError] = []
    for start in range(0, SENDS, 100):  # 100 sends in flight at once
        outcomes += await asyncio.gather(*(one(i) for i in range(start, start + 100)))
    summary = check_books(routes, messages, outcomes, trails)
    # with 100 sends in flight a burst of faults can cool every route at once; sends in
    # that window get only the route that failed longest ago, so fewer get through
    assert summary["delivered"] > 0.75 * SENDS
    assert summary["raised AllRoutesFailed"] > 0 and summary["duplicates"] > 0


def test_soak_http_stub_with_faults(make_message: Callable[..., Message]) -> None:
    """Three HTTP routes on the stub, 30 % of requests faulted: the stub's accepted count
    equals the SendResults returned (no ambiguous faults here, so no duplicates)."""
    clock = FakeClock()
    options = (
        "--fault-rate",
        "0.3",
        "--fault-status",
        "500,503,429,401,403,422",
        "--retry-after",
        "0",
        "--fault-seed",
        "11",
    )
    with start_stub(*options) as stub:
        routes: list[Transport] = [
            SendGridTransport(api_key="SG.k", base_url=stub.url),
            PostmarkTransport(server_token="pm-token", base_url=stub.url),
            MailjetTransport(api_key="mj", secret_key="mj-secret", base_url=stub.url),
        ]
        router = router_over(routes, clock, "roundrobin")
        outcomes: list[SendResult | SendError] = []
        tries = 0
        with router:
            for message in make_messages(make_message, SENDS):
                trail: list[Attempt] = []
                current.set(trail)
                clock.advance(1.0)
                try:
                    outcomes.append(Mailer(router, retry=policy(clock)).send(message))
                except SendError as error:
                    outcomes.append(error)
                tries += len(trail)
                assert not any(a.ambiguous for a in trail)
        stats = stub.stats()
    delivered = [o for o in outcomes if isinstance(o, SendResult)]
    raised = [o for o in outcomes if isinstance(o, SendError)]
    assert len(delivered) + len(raised) == SENDS
    # 0 false successes and no duplicates: one accepted request per SendResult
    assert stats["messages"] == len(delivered) == sum(stats["by_route"].values())
    assert stats["requests"] == tries
    assert Counter(r.transport for r in delivered) == Counter(
        {
            "sendgrid": stats["by_route"].get("sendgrid", 0),
            "postmark": stats["by_route"].get("postmark", 0),
            "mailjet": stats["by_route"].get("mailjet", 0),
        }
    )
    assert sum(stats["faults"].values()) > 0.2 * tries
    assert all(isinstance(e, (AllRoutesFailed, MessageRejected)) for e in raised)
    assert len(delivered) > 0.8 * SENDS
