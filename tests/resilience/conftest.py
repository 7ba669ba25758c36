"""Fixtures for the resilience tests: a fake clock that sleeps instantly, a retry policy
wired to it, and ``deliver``: the same call made through the sync or the async path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from servers.http import http_stub, stub  # noqa: F401  (fixtures for test_routing_real)
from servers.smtp import smtp_ca, smtp_server_factory  # noqa: F401

from unisend import AsyncMailer, Mailer, Message, RetryPolicy, SendResult
from unisend.transports.base import Transport


class FakeClock:
    """A monotonic clock that only moves when told to (or when something sleeps)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let other tasks run, as a real wait would


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def policy_for(clock: FakeClock) -> Callable[..., RetryPolicy]:
    """``policy_for(attempts=3, ...)``: a RetryPolicy that sleeps on the fake clock."""

    def make(**kw: Any) -> RetryPolicy:
        return RetryPolicy(sleep=clock.sleep, async_sleep=clock.async_sleep, clock=clock, **kw)

    return make


@pytest.fixture
def message(make_message: Callable[..., Message]) -> Message:
    return make_message()


Deliver = Callable[[Transport, Message, RetryPolicy], SendResult]


@pytest.fixture(params=["sync", "async"])
def deliver(request: pytest.FixtureRequest) -> Deliver:
    """``deliver(transport, message, policy)`` through ``Mailer`` or ``AsyncMailer``."""
    if request.param == "sync":
        return lambda transport, message, policy: Mailer(transport, retry=policy).send(message)

    def run(transport: Transport, message: Message, policy: RetryPolicy) -> SendResult:
        return asyncio.run(AsyncMailer(transport, retry=policy).send(message))

    return run


@pytest.fixture(params=["sync", "async"])
def send(request: pytest.FixtureRequest) -> Callable[[Transport, Message], SendResult]:
    """``send(transport, message)`` through ``send`` or ``asend``."""
    if request.param == "sync":
        return lambda transport, message: transport.send(message)
    return lambda transport, message: asyncio.run(transport.asend(message))
