"""The retry rule: :class:`RetryPolicy`, written once.

The policy is pure: :meth:`RetryPolicy.should_retry` says whether a route is tried again
after a failed try, :meth:`RetryPolicy.delay` how long to wait first. The delivery plan
(:mod:`unisend._delivery`) is the only loop that applies it, for ``send``, ``send_many``
and batch rounds alike; the mailers sleep through the policy's injectable ``sleep`` /
``async_sleep``, so tests never really wait.

tenacity was the loop here before and is not used any more, chosen by measurement
(benchmarks/RESULTS.md, "One delivery engine"): importing it cost about 45 ms on top of
asyncio, and a send retried once through ``tenacity.Retrying`` took 72 us against 16 us
for the plan with these few lines, which are exactly its ``wait_exponential`` /
``wait_random_exponential`` arithmetic.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ._errors import ConfigurationError, RateLimited, TransientError
from .transports._status import parse_retry_after


async def _asyncio_sleep(seconds: float) -> None:
    """``asyncio.sleep``, imported on first use: ``from unisend import Mailer`` must not
    pay for asyncio."""
    import asyncio

    await asyncio.sleep(seconds)


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
        default=_asyncio_sleep, repr=False, compare=False
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
        try:
            bound = self.backoff * 2.0 ** (attempt - 1)
        except OverflowError:
            return float(self.max_backoff)
        return float(min(bound, self.max_backoff))

    def delay(self, error: BaseException, attempt: int) -> float:
        """Seconds to wait after try number ``attempt`` (1-based) failed with ``error``."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(max(0.0, error.retry_after), self.max_retry_after)
        bound = self.backoff_bound(attempt)
        return random.uniform(0.0, bound) if self.jitter and bound else bound


#: Try each route once.
NO_RETRY = RetryPolicy(attempts=1, backoff=0)


__all__ = ["NO_RETRY", "RetryPolicy", "parse_retry_after"]
