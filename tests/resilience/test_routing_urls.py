"""Composition URLs: failover(...) and roundrobin(...) with cooldown, weights, attempts and
backoff in the query, nesting, and the errors for bad ones."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from unisend import (
    AsyncMailer,
    ConfigurationError,
    Failover,
    Mailer,
    Message,
    RetryPolicy,
    RoundRobin,
    from_url,
)
from unisend.transports import MemoryTransport


def test_failover_url_with_cooldown() -> None:
    router = from_url("failover(memory://?name=a memory://?name=b)?cooldown=30")
    assert isinstance(router, Failover)
    assert router.cooldown == 30.0 and router.retry is None and router.name == "failover"
    assert [r.name for r in router.routes] == ["a", "b"]
    assert all(isinstance(r, MemoryTransport) for r in router.routes)


def test_roundrobin_url_with_weights_and_name() -> None:
    router = from_url("roundrobin(memory://?name=a memory://?name=b)?weights=3,1&name=spread")
    assert isinstance(router, RoundRobin)
    assert router.weights == (3, 1) and router.name == "spread" and router.cooldown == 60.0


def test_retry_keys_become_the_routers_own_policy() -> None:
    router = from_url(
        "failover(memory:// memory://)?attempts=5&backoff=0.1&max_backoff=2"
        "&max_retry_after=9&jitter=false"
    )
    assert isinstance(router, Failover)
    assert router.retry == RetryPolicy(
        attempts=5, backoff=0.1, max_backoff=2.0, max_retry_after=9.0, jitter=False
    )


def test_nesting(message: Message) -> None:
    router = from_url(
        "failover(roundrobin(memory://?name=a memory://?name=b)?weights=2,1 "
        "memory://?name=c)?cooldown=5"
    )
    assert isinstance(router, Failover) and router.cooldown == 5.0
    inner, last = router.routes
    assert isinstance(inner, RoundRobin) and inner.weights == (2, 1)
    assert last.name == "c"
    with Mailer(router) as mailer:
        sent = [mailer.send(message).transport for _ in range(6)]
    assert sent == ["a", "b", "a"] * 2


def test_deep_nesting_and_whitespace() -> None:
    router = from_url(
        "  failover( roundrobin(failover(memory://?name=a memory://?name=b) memory://?name=c)"
        "   memory://?name=d )  "
    )
    assert isinstance(router, Failover)
    inner = router.routes[0]
    assert isinstance(inner, RoundRobin) and isinstance(inner.routes[0], Failover)
    assert [r.name for r in inner.routes[0].routes] == ["a", "b"]


def test_async_mailer_from_composition_url(message: Message) -> None:
    async def run() -> list[str]:
        async with AsyncMailer.from_url("roundrobin(memory://?name=a memory://?name=b)") as m:
            return [(await m.send(message)).transport for _ in range(4)]

    assert asyncio.run(run()) == ["a", "b", "a", "b"]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("failover(memory://)?weights=1", "unknown query parameter 'weights'"),
        ("failover(memory://)?bogus=1", "unknown query parameter 'bogus'"),
        ("failover(memory://)?cooldown=soon", "cooldown='soon' must be a float"),
        ("failover(memory://)?cooldown=-1", "cooldown must be a number of seconds >= 0"),
        ("failover(memory://)?attempts=0", "attempts must be at least 1"),
        ("failover(memory://)?attempts=two", "attempts='two' must be a int"),
        ("roundrobin(memory:// memory://)?weights=3", "1 weights given for 2 routes"),
        ("roundrobin(memory:// memory://)?weights=3,x", "whole numbers separated by commas"),
        ("roundrobin(memory:// memory://)?weights=3,0", "whole numbers >= 1"),
        ("failover()", "at least one URL"),
        ("failover(memory://", "missing ')'"),
    ],
)
def test_bad_composition_urls(url: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        from_url(url)


def test_errors_never_echo_a_secret() -> None:
    url = "failover(memory://user:S3CRET-PASSWORD@x memory://)?cooldown=nope"
    with pytest.raises(ConfigurationError) as caught:
        from_url(url)
    assert "S3CRET-PASSWORD" not in str(caught.value)
    assert "cooldown" in str(caught.value)


def test_url_policy_defaults_the_numbers_it_does_not_set() -> None:
    router = from_url("roundrobin(memory://)?attempts=2")
    assert isinstance(router, RoundRobin) and router.retry is not None
    assert replace(router.retry, attempts=3) == RetryPolicy()
