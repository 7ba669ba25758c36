"""Retrying one route: :class:`RetryPolicy` and the loop that applies it.

The policy is pure (``should_retry``, ``delay``); the loop records one
:class:`~unisend.Attempt` per try and sleeps through an injectable function, so tests
never really sleep.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import tenacity

from ._errors import RateLimited, SendError, TransientError
from ._result import Attempt, SendResult

if TYPE_CHECKING:
    from ._message import Message
    from .transports.base import Transport

logger = logging.getLogger("unisend")


@dataclass(frozen=True)
class RetryPolicy:
    """How often one route is tried on a transient error before the next route is taken.

    Exponential backoff with full jitter: the n-th wait is drawn from
    ``[0, min(max_backoff, backoff * 2**n)]`` (or is exactly that bound with
    ``jitter=False``). A ``Retry-After`` from the provider replaces the backoff; one
    longer than ``max_retry_after`` is not waited for, and the route counts as exhausted.
    ``RetryPolicy(attempts=1, backoff=0)`` means no retry.
    """

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 60.0
    jitter: bool = True
    #: Injectable for tests: how to wait (sync and async) and what clock to read.
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        from ._errors import ConfigurationError

        if self.attempts < 1:
            raise ConfigurationError("RetryPolicy.attempts must be at least 1")
        if min(self.backoff, self.max_backoff, self.max_retry_after) < 0:
            raise ConfigurationError("RetryPolicy delays must not be negative")

    def should_retry(self, error: SendError, attempt: int) -> bool:
        """Whether to try the same route again after ``attempt`` (1-based) failed."""
        if attempt >= self.attempts or not isinstance(error, TransientError):
            return False
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return error.retry_after <= self.max_retry_after
        return True

    def delay(self, error: SendError, attempt: int) -> float:
        """Seconds to wait after ``attempt`` (1-based) failed with ``error``."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return max(0.0, error.retry_after)
        if self.backoff <= 0:
            return 0.0
        wait: tenacity.wait.wait_base
        if self.jitter:
            wait = tenacity.wait_random_exponential(multiplier=self.backoff, max=self.max_backoff)
        else:
            wait = tenacity.wait_exponential(multiplier=self.backoff, max=self.max_backoff)
        state = tenacity.RetryCallState(None, None, (), {})
        state.attempt_number = attempt
        return float(wait(state))


NO_RETRY = RetryPolicy(attempts=1, backoff=0)


def _failed(transport: Transport, error: SendError, started: float, policy: RetryPolicy) -> Attempt:
    if not error.transport:
        error.transport = transport.name
    attempt = Attempt(transport.name, error, policy.clock() - started, error.ambiguous)
    logger.debug(
        "attempt on %s failed: %s (%s)", transport.name, type(error).__name__, error.status_code
    )
    return attempt


def send_with_retry(
    transport: Transport,
    message: Message,
    policy: RetryPolicy,
    trail: list[Attempt] | None = None,
) -> SendResult:
    """Try ``transport`` up to ``policy.attempts`` times; append every try to ``trail``.

    Returns the result with the whole trail, or raises the last error.
    """
    trail = [] if trail is None else trail
    number = 0
    while True:
        number += 1
        started = policy.clock()
        try:
            result = transport.send(message)
        except SendError as error:
            trail.append(_failed(transport, error, started, policy))
            if not policy.should_retry(error, number):
                raise
            policy.sleep(policy.delay(error, number))
            continue
        trail.append(Attempt(transport.name, None, policy.clock() - started))
        return replace(result, attempts=tuple(trail))


async def asend_with_retry(
    transport: Transport,
    message: Message,
    policy: RetryPolicy,
    trail: list[Attempt] | None = None,
) -> SendResult:
    """Async :func:`send_with_retry`."""
    trail = [] if trail is None else trail
    number = 0
    while True:
        number += 1
        started = policy.clock()
        try:
            result = await transport.asend(message)
        except SendError as error:
            trail.append(_failed(transport, error, started, policy))
            if not policy.should_retry(error, number):
                raise
            await policy.async_sleep(policy.delay(error, number))
            continue
        trail.append(Attempt(transport.name, None, policy.clock() - started))
        return replace(result, attempts=tuple(trail))


__all__ = ["NO_RETRY", "RetryPolicy", "asend_with_retry", "send_with_retry"]
