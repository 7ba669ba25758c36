"""Failover: the decision table, cooldowns, back to the primary, all-cooling, the trail,
AllRoutesFailed, health() and reset(); each through the sync and the async path."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from unisend import (
    AllRoutesFailed,
    AuthenticationError,
    ConfigurationError,
    Failover,
    Message,
    MessageRejected,
    RetryPolicy,
    SendError,
    SendResult,
    TransientError,
)
from unisend._routing import RouteHealth
from unisend.transports import MemoryTransport, ScriptedTransport
from unisend.transports.base import Transport

from .conftest import Deliver, FakeClock

Policy = Callable[..., RetryPolicy]


def routes(*scripts: list[str]) -> list[ScriptedTransport]:
    return [ScriptedTransport(s, name=f"r{i}") for i, s in enumerate(scripts, 1)]


# The decision table of docs/resilience.md: what the primary's error does, with attempts=3.
# (primary script, primary tries, retry sleeps, backup used, primary cools down, raised)
DECISIONS = [
    (["ok"], 1, 0, False, False, None),
    (["503", "ok"], 2, 1, False, False, None),
    (["503"], 3, 2, True, True, None),
    (["timeout"], 3, 2, True, True, None),
    (["reset"], 3, 2, True, True, None),
    (["429:2"], 3, 2, True, True, None),
    (["429:600"], 1, 0, True, True, None),
    (["401"], 1, 0, True, True, None),
    (["403"], 1, 0, True, True, None),
    (["400"], 1, 0, False, False, MessageRejected),
    (["422"], 1, 0, False, False, MessageRejected),
    (["413"], 1, 0, False, False, MessageRejected),
]


@pytest.mark.parametrize(("script", "tries", "sleeps", "backup_used", "cools", "raised"), DECISIONS)
def test_decision_table(
    deliver: Deliver,
    message: Message,
    clock: FakeClock,
    policy_for: Policy,
    script: list[str],
    tries: int,
    sleeps: int,
    backup_used: bool,
    cools: bool,
    raised: type[SendError] | None,
) -> None:
    primary, backup = routes(script, ["ok"])
    router = Failover([primary, backup], _clock=clock)
    policy = policy_for(attempts=3, max_retry_after=60)
    if raised is None:
        result = deliver(router, message, policy)
        assert result.transport == ("r2" if backup_used else "r1")
    else:
        with pytest.raises(raised) as caught:
            deliver(router, message, policy)
        assert type(caught.value) is raised and caught.value.transport == "r1"
    assert primary.calls == tries
    assert len(clock.sleeps) == sleeps
    assert (backup.calls == 1) is backup_used
    assert (router.health()[0].state == "cooling") is cools
    assert router.health()[1].state == "healthy"


def test_message_rejected_on_the_backup_is_raised_and_cools_nothing(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    primary, backup, third = routes(["500"], ["422"], ["ok"])
    router = Failover([primary, backup, third], _clock=clock)
    with pytest.raises(MessageRejected):
        deliver(router, message, policy_for(attempts=1))
    assert third.calls == 0
    assert [h.state for h in router.health()] == ["cooling", "healthy", "healthy"]
    assert router.health()[1].consecutive_failures == 0


def test_message_rejected_many_times_never_benches_a_route(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    primary, backup = routes(["422", "422", "422", "ok"], ["ok"])
    router = Failover([primary, backup], _clock=clock)
    for _ in range(3):
        with pytest.raises(MessageRejected):
            deliver(router, message, policy_for())
    assert deliver(router, message, policy_for()).transport == "r1"
    assert backup.calls == 0


def test_cooling_route_is_skipped_then_tried_first_again(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    primary, backup = routes(["503", "ok"], ["ok"])
    router = Failover([primary, backup], cooldown=30, _clock=clock)
    first = deliver(router, message, policy_for(attempts=1))
    assert first.transport == "r2" and primary.calls == 1
    # while r1 cools down, sends go straight to the backup without touching r1
    clock.advance(29.9)
    assert deliver(router, message, policy_for(attempts=1)).transport == "r2"
    assert primary.calls == 1
    # no stickiness: once the cooldown ends the primary is first again
    clock.advance(0.1)
    assert router.health()[0].state == "healthy"
    assert deliver(router, message, policy_for(attempts=1)).transport == "r1"
    assert (primary.calls, backup.calls) == (2, 2)
    assert router.health()[0].consecutive_failures == 0


def test_all_routes_cooling_tries_the_one_that_failed_longest_ago(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    r1, r2, r3 = routes(["500"], ["500"], ["500", "ok"])
    router = Failover([r1, r2, r3], cooldown=60, _clock=clock)
    # one send fails on every route, all at t=1000 (ties go to the declared order)
    with pytest.raises(AllRoutesFailed):
        deliver(router, message, policy_for(attempts=1))
    assert all(h.state == "cooling" for h in router.health())
    clock.advance(10)
    # every route cools: r1 failed longest ago, so it alone is tried
    with pytest.raises(AllRoutesFailed) as caught:
        deliver(router, message, policy_for(attempts=1))
    assert [e.transport for e in caught.value.errors] == ["r1"]
    assert (r1.calls, r2.calls, r3.calls) == (2, 1, 1)
    clock.advance(10)
    # now r2 is the oldest failure, then r3
    with pytest.raises(AllRoutesFailed):
        deliver(router, message, policy_for(attempts=1))
    assert (r1.calls, r2.calls, r3.calls) == (2, 2, 1)
    clock.advance(10)
    result = deliver(router, message, policy_for(attempts=1))
    assert result.transport == "r3" and r3.calls == 2
    assert router.health()[2].state == "healthy"


def test_all_routes_failed_lists_every_try_in_order(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    r1, r2, r3 = routes(["503", "timeout"], ["401"], ["429:1", "500"])
    router = Failover([r1, r2, r3], name="mail", _clock=clock)
    with pytest.raises(AllRoutesFailed) as caught:
        deliver(router, message, policy_for(attempts=2, backoff=0))
    error = caught.value
    assert error.transport == "mail"
    assert [(e.transport, type(e).__name__, e.status_code) for e in error.errors] == [
        ("r1", "TransientError", 503),
        ("r1", "TransientError", None),
        ("r2", "AuthenticationError", 401),
        ("r3", "RateLimited", 429),
        ("r3", "TransientError", 500),
    ]
    assert [a.error for a in error.attempts] == error.errors
    assert [a.ambiguous for a in error.attempts] == [False, True, False, False, False]
    assert error.ambiguous is True  # one try may have been accepted
    assert "r1, r2, r3" in str(error)
    assert not error.retryable


def test_result_attempts_trail_has_every_try_in_order(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    r1, r2, r3 = routes(["timeout", "500"], ["403"], ["503", "ok"])
    router = Failover([r1, r2, r3], _clock=clock)
    result = deliver(router, message, policy_for(attempts=2, backoff=1, jitter=False))
    trail = [(a.transport, a.error is None, a.ambiguous) for a in result.attempts]
    assert trail == [
        ("r1", False, True),
        ("r1", False, False),
        ("r2", False, False),
        ("r3", False, False),
        ("r3", True, False),
    ]
    assert result.transport == "r3" and r3.sent == [message]
    assert all(a.elapsed >= 0 for a in result.attempts)
    assert clock.sleeps == [1.0, 1.0]  # one wait per retried route
    assert isinstance(result.attempts[0].error, TransientError)


def test_send_directly_means_no_retry(
    send: Callable[[Transport, Message], SendResult], message: Message, clock: FakeClock
) -> None:
    primary, backup = routes(["503", "ok"], ["ok"])
    router = Failover([primary, backup], _clock=clock)
    result = send(router, message)
    assert result.transport == "r2" and primary.calls == 1
    assert len(result.attempts) == 2


def test_the_routers_own_policy_wins(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    primary, backup = routes(["503", "503", "503", "503", "ok"], ["ok"])
    own = policy_for(attempts=5, backoff=0)
    router = Failover([primary, backup], retry=own, _clock=clock)
    result = deliver(router, message, policy_for(attempts=1))
    assert result.transport == "r1" and primary.calls == 5


def test_health_is_a_read_only_snapshot_and_reset_forgets(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    primary, backup = routes(["500"], ["ok"])
    router = Failover([primary, backup], cooldown=45, _clock=clock)
    deliver(router, message, policy_for(attempts=1))
    deliver(router, message, policy_for(attempts=1))  # r1 skipped: still 1 failure
    clock.advance(45)
    deliver(router, message, policy_for(attempts=1))  # r1 tried again and failed again
    health = router.health()
    assert health[0] == RouteHealth("r1", "cooling", clock.now + 45, 2)
    assert health[1] == RouteHealth("r2", "healthy", None, 0)
    with pytest.raises(AttributeError):
        health[0].state = "healthy"  # type: ignore[misc]
    assert isinstance(health, tuple)
    router.reset()
    assert router.health()[0] == RouteHealth("r1", "healthy", None, 0)
    deliver(router, message, policy_for(attempts=1))
    assert primary.calls == 3


def test_zero_cooldown_never_skips(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    primary, backup = routes(["500", "ok"], ["ok"])
    router = Failover([primary, backup], cooldown=0, _clock=clock)
    assert deliver(router, message, policy_for(attempts=1)).transport == "r2"
    assert deliver(router, message, policy_for(attempts=1)).transport == "r1"


def test_nested_router_is_one_route_and_its_trail_is_flattened(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    a, b, c = routes(["500"], ["401"], ["ok"])
    inner = Failover([a, b], name="inner", _clock=clock)
    outer = Failover([inner, c], name="outer", _clock=clock)
    result = deliver(outer, message, policy_for(attempts=1))
    assert [x.transport for x in result.attempts] == ["r1", "r2", "r3"]
    assert [h.state for h in outer.health()] == ["cooling", "healthy"]
    assert [h.state for h in inner.health()] == ["cooling", "cooling"]


def test_nested_message_rejected_passes_through_as_itself(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    inner = Failover(routes(["400"]), _clock=clock)
    backup = ScriptedTransport(["ok"])
    outer = Failover([inner, backup], _clock=clock)
    with pytest.raises(MessageRejected):
        deliver(outer, message, policy_for())
    assert backup.calls == 0 and outer.health()[0].state == "healthy"


def test_routes_may_be_urls(message: Message) -> None:
    router = Failover(["memory://?name=one", MemoryTransport(name="two")])
    assert [r.name for r in router.routes] == ["one", "two"]
    assert router.send(message).transport == "one"
    assert repr(router) == "<Failover name='failover' routes=[one, two]>"


def test_a_bug_in_a_route_is_not_swallowed(message: Message, clock: FakeClock) -> None:
    class Broken(ScriptedTransport):
        def send(self, message: Message) -> SendResult:
            raise KeyError("bug")

    backup = ScriptedTransport(["ok"])
    router = Failover([Broken(["ok"]), backup], _clock=clock)
    with pytest.raises(KeyError):
        router.send(message)
    assert backup.calls == 0 and router.health()[0].state == "healthy"


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        ([], {}, "needs at least one route"),
        ("memory://", {}, "takes a list of transports"),
        ([object()], {}, "route 1 must be a Transport or a URL"),
        ([MemoryTransport()], {"cooldown": -1}, "cooldown must be a number of seconds >= 0"),
        ([MemoryTransport()], {"cooldown": "60"}, "cooldown"),
        ([MemoryTransport()], {"retry": 3}, "retry must be a RetryPolicy"),
        ([MemoryTransport()], {"on_attempt": "log"}, "on_attempt must be callable"),
    ],
)
def test_bad_arguments_are_configuration_errors(
    args: object, kwargs: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        Failover(args, **kwargs)  # type: ignore[arg-type]


def test_close_closes_every_route_even_if_one_fails() -> None:
    closed: list[str] = []

    class Closing(MemoryTransport):
        def close(self) -> None:
            closed.append(self.name)
            if self.name == "a":
                raise OSError("close failed")

    router = Failover([Closing(name="a"), Closing(name="b")])
    with pytest.raises(OSError):
        router.close()
    assert closed == ["a", "b"]


async def test_async_context_manager_closes_routes() -> None:
    closed: list[str] = []

    class Closing(MemoryTransport):
        def close(self) -> None:
            closed.append(self.name)

    async with Failover([Closing(name="a"), Closing(name="b")]):
        pass
    assert closed == ["a", "b"]


def test_authentication_error_fails_over(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Policy
) -> None:
    primary, backup = routes(["401"], ["ok"])
    router = Failover([primary, backup], _clock=clock)
    result = deliver(router, message, policy_for())
    assert isinstance(result.attempts[0].error, AuthenticationError)
    assert result.transport == "r2"
