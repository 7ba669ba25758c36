"""Retrying one route: :class:`RetryPolicy` and the loop that applies it, on tenacity.

The policy is pure (:meth:`RetryPolicy.should_retry`, :meth:`RetryPolicy.delay`); the
loop runs on :class:`tenacity.Retrying` / :class:`tenacity.AsyncRetrying`, records one
:class:`~unisend.Attempt` per try and sleeps through an injectable function, so tests
never really sleep. :func:`parse_retry_after` reads an HTTP ``Retry-After`` header
(seconds or an HTTP date) for the HTTP transports.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import tenacity

from ._errors import ConfigurationError, RateLimited, SendError, TransientError
from ._hooks import AttemptHook, call_hook
from ._result import Attempt, SendResult

if TYPE_CHECKING:
    from ._message import Message
    from .transports.base import Transport

logger = logging.getLogger("unisend")


@dataclass(frozen=True)
class RetryPolicy:
    """How often one route is tried on a transient error before the next route is taken.

    Exponential backoff with full jitter: the wait after the n-th failed try is drawn
    from ``[0, min(max_backoff, backoff * 2**(n-1))]`` (exactly that bound with
    ``jitter=False``). A ``Retry-After`` from the provider (:class:`~unisend.RateLimited`
    ``.retry_after``) replaces the backoff; one longer than ``max_retry_after`` is not
    waited for: the route counts as exhausted at once. Only
    :class:`~unisend.TransientError` (and so ``RateLimited``) is retried.
    ``RetryPolicy(attempts=1, backoff=0)`` means no retry.

    ``sleep``, ``async_sleep`` and ``clock`` are injectable, so tests never really wait.
    """

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 60.0
    jitter: bool = True
    #: How to wait in the sync loop.
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    #: How to wait in the async loop.
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )
    #: Monotonic clock for :attr:`Attempt.elapsed`.
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ConfigurationError(
                f"RetryPolicy.attempts must be an int, got {type(self.attempts).__name__}"
            )
        if self.attempts < 1:
            raise ConfigurationError(
                f"RetryPolicy.attempts must be at least 1 (1 means no retry), got {self.attempts}"
            )
        for name in ("backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
                raise ConfigurationError(
                    f"RetryPolicy.{name} must be a number of seconds >= 0, got {value!r}"
                )

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether to try the same route again after try number ``attempt`` (1-based)
        failed with ``error``."""
        if attempt >= self.attempts or not isinstance(error, TransientError):
            return False
        return not self.retry_after_too_long(error)

    def retry_after_too_long(self, error: BaseException) -> bool:
        """True when ``error`` asks for a wait longer than ``max_retry_after``."""
        return (
            isinstance(error, RateLimited)
            and error.retry_after is not None
            and error.retry_after > self.max_retry_after
        )

    def backoff_bound(self, attempt: int) -> float:
        """The upper bound of the wait after try number ``attempt`` (1-based) failed."""
        if self.backoff <= 0:
            return 0.0
        wait = tenacity.wait_exponential(multiplier=self.backoff, max=self.max_backoff)
        return float(wait(_state(attempt)))

    def delay(self, error: BaseException, attempt: int) -> float:
        """Seconds to wait after try number ``attempt`` (1-based) failed with ``error``."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(max(0.0, error.retry_after), self.max_retry_after)
        if self.backoff <= 0:
            return 0.0
        wait: tenacity.wait.wait_base
        if self.jitter:
            wait = tenacity.wait_random_exponential(multiplier=self.backoff, max=self.max_backoff)
        else:
            wait = tenacity.wait_exponential(multiplier=self.backoff, max=self.max_backoff)
        return float(wait(_state(attempt)))


#: Try each route once.
NO_RETRY = RetryPolicy(attempts=1, backoff=0)


_RETRYING = tenacity.Retrying()


def _state(attempt: int) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(_RETRYING, None, (), {})
    state.attempt_number = attempt
    return state


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` value, or None when it says nothing usable.

    Accepts delay-seconds (``"120"``; a decimal such as ``"1.5"`` is tolerated) and an
    HTTP date (``"Wed, 21 Oct 2015 07:28:00 GMT"``), which is compared with ``now``
    (seconds since the epoch, default :func:`time.time`); a date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
            return None
        return seconds
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # some Python versions return None instead of raising
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    reference = time.time() if now is None else now
    return max(0.0, when.timestamp() - reference)


class _RetryAfterTooLong(tenacity.stop.stop_base):
    """Stop at once when the provider asks for a wait over ``max_retry_after``."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        return error is not None and self.policy.retry_after_too_long(error)


class _Wait(tenacity.wait.wait_base):
    """Retry-After when the provider said, else exponential backoff with full jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        # tenacity counts from the second try (the first one ran before it; see below)
        return self.policy.delay(error or TransientError(""), state.attempt_number + 1)


def _retrying_kwargs(policy: RetryPolicy) -> dict[str, Any]:
    """tenacity's strategies for tries 2..attempts: transient errors only, stop after
    ``attempts`` tries in all or at once on a too long Retry-After, reraise the last."""
    return {
        "stop": tenacity.stop_any(
            tenacity.stop_after_attempt(policy.attempts - 1), _RetryAfterTooLong(policy)
        ),
        "wait": _Wait(policy),
        "retry": _RETRY_TRANSIENT,
        "reraise": True,
    }


#: Only transient errors (RateLimited included) are retried; anything else is raised at once.
_RETRY_TRANSIENT = tenacity.retry_if_exception_type(TransientError)


def _record(
    transport: Transport,
    error: SendError | None,
    started: float,
    policy: RetryPolicy,
    trail: list[Attempt],
    on_attempt: AttemptHook | None,
) -> None:
    if error is not None and not error.transport:
        error.transport = transport.name
    attempt = Attempt(
        transport.name,
        error,
        policy.clock() - started,
        error.ambiguous if error is not None else False,
    )
    trail.append(attempt)
    if error is None:
        logger.debug("attempt on %s succeeded in %.3fs", transport.name, attempt.elapsed)
    else:
        logger.debug(
            "attempt on %s failed: %s (status %s, ambiguous=%s)",
            transport.name,
            type(error).__name__,
            error.status_code,
            error.ambiguous,
        )
    if on_attempt is not None:
        call_hook(on_attempt, attempt)


def send_with_retry(
    transport: Transport,
    message: Message,
    policy: RetryPolicy,
    trail: list[Attempt] | None = None,
    on_attempt: AttemptHook | None = None,
) -> SendResult:
    """Try ``transport.send`` up to ``policy.attempts`` times; append every try to ``trail``.

    Returns the result carrying the whole trail, or raises the last error as itself.
    """
    trail = [] if trail is None else trail

    def once() -> SendResult:
        started = policy.clock()
        try:
            result = transport.send(message)
        except SendError as error:
            _record(transport, error, started, policy, trail, on_attempt)
            raise
        _record(transport, None, started, policy, trail, on_attempt)
        return result

    # The first try runs outside tenacity: most sends succeed at once, and a tenacity
    # loop costs more than a fast transport's whole send. tenacity runs the retries.
    try:
        result = once()
    except SendError as error:
        if not policy.should_retry(error, 1):
            raise
        policy.sleep(policy.delay(error, 1))
        result = tenacity.Retrying(sleep=policy.sleep, **_retrying_kwargs(policy))(once)
    return replace(result, attempts=tuple(trail))


async def asend_with_retry(
    transport: Transport,
    message: Message,
    policy: RetryPolicy,
    trail: list[Attempt] | None = None,
    on_attempt: AttemptHook | None = None,
) -> SendResult:
    """Async :func:`send_with_retry` (waits with ``policy.async_sleep``)."""
    trail = [] if trail is None else trail

    async def once() -> SendResult:
        started = policy.clock()
        try:
            result = await transport.asend(message)
        except SendError as error:
            _record(transport, error, started, policy, trail, on_attempt)
            raise
        _record(transport, None, started, policy, trail, on_attempt)
        return result

    try:
        result = await once()
    except SendError as error:
        if not policy.should_retry(error, 1):
            raise
        await policy.async_sleep(policy.delay(error, 1))
        retrying = tenacity.AsyncRetrying(sleep=policy.async_sleep, **_retrying_kwargs(policy))
        result = await retrying(once)
    return replace(result, attempts=tuple(trail))


__all__ = [
    "NO_RETRY",
    "RetryPolicy",
    "asend_with_retry",
    "parse_retry_after",
    "send_with_retry",
]
