"""RetryPolicy: backoff bounds, full jitter, cap, Retry-After (seconds and HTTP date),
and the loop that applies it to one route (sync and async)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from unisend import (
    AsyncMailer,
    AuthenticationError,
    ConfigurationError,
    Mailer,
    Message,
    MessageRejected,
    ProviderError,
    RateLimited,
    RetryPolicy,
    TransientError,
)
from unisend._retry import NO_RETRY, parse_retry_after
from unisend.transports import ScriptedTransport

from .conftest import Deliver, FakeClock


def test_defaults_match_the_design() -> None:
    policy = RetryPolicy()
    assert (policy.attempts, policy.backoff, policy.max_backoff) == (3, 0.5, 30.0)
    assert (policy.max_retry_after, policy.jitter) == (60.0, True)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"attempts": 0}, "attempts must be at least 1"),
        ({"attempts": 1.5}, "attempts must be an int"),
        ({"backoff": -1}, "backoff must be a number of seconds >= 0"),
        ({"max_backoff": float("nan")}, "max_backoff"),
        ({"max_retry_after": -0.1}, "max_retry_after"),
    ],
)
def test_bad_policy_is_a_configuration_error(kwargs: dict[str, float], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_exponential_bounds_are_capped() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=3.0, jitter=False)
    error = TransientError("x")
    assert [policy.delay(error, n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert [policy.backoff_bound(n) for n in range(1, 5)] == [0.5, 1.0, 2.0, 3.0]


def test_full_jitter_stays_within_zero_and_the_bound() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=3.0)
    error = TransientError("x")
    for attempt, bound in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 3.0)]:
        draws = [policy.delay(error, attempt) for _ in range(2000)]
        assert all(0.0 <= d <= bound for d in draws)
        # full jitter spreads over the whole range, not just near the bound
        assert min(draws) < bound * 0.1 and max(draws) > bound * 0.9
        assert bound * 0.4 < sum(draws) / len(draws) < bound * 0.6


def test_zero_backoff_never_waits() -> None:
    policy = RetryPolicy(backoff=0)
    assert policy.delay(TransientError("x"), 5) == 0.0


def test_retry_after_replaces_the_backoff_up_to_the_maximum() -> None:
    policy = RetryPolicy(backoff=10, max_retry_after=5)
    assert policy.delay(RateLimited("x", retry_after=2.5), 1) == 2.5
    assert policy.should_retry(RateLimited("x", retry_after=5), 1)
    assert not policy.should_retry(RateLimited("x", retry_after=5.01), 1)


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (TransientError("x"), True),
        (RateLimited("x"), True),
        (RateLimited("x", retry_after=1), True),
        (ProviderError("x"), False),
        (AuthenticationError("x"), False),
        (MessageRejected("x"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_transient_errors_are_retried(error: Exception, retried: bool) -> None:
    policy = RetryPolicy(attempts=3)
    assert policy.should_retry(error, 1) is retried
    assert policy.should_retry(error, 3) is False


# -- parse_retry_after ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("nan", None),
        ("inf", None),
        (None, None),
    ],
)
def test_parse_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_http_date() -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=now) == 30.0
    assert (
        parse_retry_after(
            format_datetime(datetime.fromtimestamp(now + 90, timezone.utc), usegmt=True), now=now
        )
        == 90.0
    )
    # a date in the past means "now"
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("Wed, 99 Foo 2015 07:00:00 GMT", now=now) is None


def test_parse_retry_after_http_date_defaults_to_the_wall_clock() -> None:
    later = datetime.now(timezone.utc).timestamp() + 3600
    value = format_datetime(datetime.fromtimestamp(later, timezone.utc), usegmt=True)
    seconds = parse_retry_after(value)
    assert seconds is not None and 3590 < seconds <= 3600


# -- the loop on one route -----------------------------------------------------------------


def test_retries_transient_errors_then_succeeds(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Callable[..., RetryPolicy]
) -> None:
    route = ScriptedTransport(["503", "reset", "ok"], name="one")
    result = deliver(route, message, policy_for(attempts=3, backoff=1, jitter=False))
    assert result.transport == "one" and route.calls == 3 and route.sent == [message]
    assert clock.sleeps == [1.0, 2.0]
    assert [type(a.error).__name__ for a in result.attempts] == [
        "TransientError",
        "TransientError",
        "NoneType",
    ]
    assert all(a.transport == "one" for a in result.attempts)


def test_a_single_transport_raises_its_last_error(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Callable[..., RetryPolicy]
) -> None:
    route = ScriptedTransport(["503", "500", "502"], name="one")
    with pytest.raises(TransientError) as caught:
        deliver(route, message, policy_for(attempts=3, backoff=0.25, jitter=False))
    assert caught.value.status_code == 502 and caught.value.transport == "one"
    assert route.calls == 3 and clock.sleeps == [0.25, 0.5]


def test_retry_after_is_waited_for(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Callable[..., RetryPolicy]
) -> None:
    route = ScriptedTransport(["429:7", "ok"])
    result = deliver(route, message, policy_for(attempts=2, backoff=100, max_retry_after=10))
    assert clock.sleeps == [7.0] and result.attempts[0].error is not None


def test_retry_after_over_the_maximum_exhausts_without_sleeping(
    deliver: Deliver, message: Message, clock: FakeClock, policy_for: Callable[..., RetryPolicy]
) -> None:
    route = ScriptedTransport(["429:120", "ok"])
    with pytest.raises(RateLimited) as caught:
        deliver(route, message, policy_for(attempts=5, max_retry_after=60))
    assert caught.value.retry_after == 120.0
    assert route.calls == 1 and clock.sleeps == []


@pytest.mark.parametrize("outcome", ["401", "403", "422"])
def test_non_transient_errors_are_not_retried(
    deliver: Deliver,
    message: Message,
    clock: FakeClock,
    policy_for: Callable[..., RetryPolicy],
    outcome: str,
) -> None:
    route = ScriptedTransport([outcome, "ok"])
    with pytest.raises((ProviderError, MessageRejected)):
        deliver(route, message, policy_for(attempts=5))
    assert route.calls == 1 and clock.sleeps == []


def test_no_retry_policy_tries_once(deliver: Deliver, message: Message) -> None:
    route = ScriptedTransport(["503", "ok"])
    with pytest.raises(TransientError):
        deliver(route, message, NO_RETRY)
    assert route.calls == 1


def test_elapsed_comes_from_the_policy_clock(message: Message) -> None:
    ticks = iter([10.0, 10.25, 20.0, 20.5])
    policy = RetryPolicy(attempts=2, backoff=0, clock=lambda: next(ticks), sleep=lambda s: None)
    result = Mailer(ScriptedTransport(["500", "ok"]), retry=policy).send(message)
    assert [a.elapsed for a in result.attempts] == [0.25, 0.5]


def test_async_loop_uses_async_sleep_only(message: Message) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    def forbidden(seconds: float) -> None:
        raise AssertionError("the async path must not call the blocking sleep")

    policy = RetryPolicy(
        attempts=3, backoff=2, jitter=False, sleep=forbidden, async_sleep=fake_sleep
    )
    route = ScriptedTransport(["503", "503", "ok"])
    result = asyncio.run(AsyncMailer(route, retry=policy).send(message))
    assert slept == [2.0, 4.0] and len(result.attempts) == 3


def test_an_ambiguous_timeout_is_retried_and_marked(
    deliver: Deliver, message: Message, policy_for: Callable[..., RetryPolicy]
) -> None:
    route = ScriptedTransport(["timeout", "ok"])
    result = deliver(route, message, policy_for(attempts=2))
    assert [a.ambiguous for a in result.attempts] == [True, False]
    # the provider may have taken it the first time: at-least-once, so two copies
    assert route.sent == [message, message]
