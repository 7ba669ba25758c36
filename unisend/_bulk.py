"""``send_many`` for both mailers: bounded concurrency, input order, errors in place.

Three ways, chosen by the transport:

* a transport with a batch endpoint (``batch_limit > 0``: Postmark, Mailtrap, Mailjet)
  gets the whole list in its ``send_many`` / ``asend_many``, which plans (and so
  validates) every request before the first goes out; the messages whose outcome is a
  retryable error are sent again as a smaller batch, per the retry policy;
* otherwise every message goes through ``transport.deliver`` / ``adeliver`` (retry and
  failover per message), with at most ``concurrency`` in flight: worker tasks (async) or
  worker threads (sync) that take the next message when they are done with one;
* sync with ``concurrency=1`` (the default) sends in the calling thread, one after the
  other, so one SMTP connection serves the whole list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeAlias

from ._errors import ConfigurationError, SendError
from ._result import Attempt, SendResult

if TYPE_CHECKING:
    from ._message import Message
    from ._retry import RetryPolicy
    from .transports.base import Transport

#: What send_many returns per message.
Outcome: TypeAlias = SendResult | SendError

#: Messages in flight for ``AsyncMailer.send_many`` unless ``concurrency=`` says otherwise.
ASYNC_CONCURRENCY = 32
#: Worker threads for ``Mailer.send_many``: 1 sends in the calling thread.
SYNC_CONCURRENCY = 1


def check_concurrency(concurrency: int) -> int:
    """``concurrency`` itself, or ConfigurationError when it is not a whole number >= 1."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(
            f"send_many(concurrency=...) must be a whole number >= 1, got {concurrency!r}"
        )
    return concurrency


def batch_limit(transport: Transport) -> int:
    """The transport's batch size, or 0 when it sends one message per request."""
    limit = getattr(transport, "batch_limit", 0)
    return limit if isinstance(limit, int) and limit > 0 else 0


# ---------------------------------------------------------------- one message at a time


def deliver_all(
    transport: Transport, messages: Sequence[Message], retry: RetryPolicy, concurrency: int
) -> list[Outcome]:
    """``transport.deliver`` each message, ``concurrency`` threads at most, in order."""

    def one(message: Message) -> Outcome:
        try:
            return transport.deliver(message, retry)
        except SendError as exc:
            return exc

    if concurrency == 1 or len(messages) <= 1:
        return [one(message) for message in messages]
    pool = ThreadPoolExecutor(
        max_workers=min(concurrency, len(messages)), thread_name_prefix="unisend-send"
    )
    try:
        results = list(pool.map(one, messages))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


async def adeliver_all(
    transport: Transport, messages: Sequence[Message], retry: RetryPolicy, concurrency: int
) -> list[Outcome]:
    """``transport.adeliver`` each message, ``concurrency`` in flight at most, in order."""
    results: list[Outcome | None] = [None] * len(messages)
    pending = iter(range(len(messages)))  # shared: each worker takes the next index

    async def worker() -> None:
        for index in pending:
            try:
                results[index] = await transport.adeliver(messages[index], retry)
            except SendError as exc:
                results[index] = exc

    await _run_workers([worker for _ in range(min(concurrency, len(messages)))])
    return [outcome for outcome in results if outcome is not None]


async def _run_workers(workers: Sequence[Callable[[], Awaitable[None]]]) -> None:
    """Run the workers together; if one raises, cancel the others and re-raise."""
    tasks = [asyncio.ensure_future(worker()) for worker in workers]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


# ---------------------------------------------------------------- batch endpoints


class _BatchRound:
    """Bookkeeping of a batched send_many: the attempt trail of every message."""

    def __init__(self, transport: Transport, count: int, retry: RetryPolicy) -> None:
        self.transport = transport
        self.retry = retry
        self.trails: list[list[Attempt]] = [[] for _ in range(count)]
        self.results: list[Outcome | None] = [None] * count

    def record(self, indexes: Sequence[int], outcomes: Sequence[Outcome], elapsed: float) -> None:
        """Store one round's outcomes; the retryable ones stay pending."""
        if len(outcomes) != len(indexes):
            raise RuntimeError(
                f"{type(self.transport).__name__}.send_many returned {len(outcomes)} "
                f"outcomes for {len(indexes)} messages"
            )
        name = self.transport.name
        for index, outcome in zip(indexes, outcomes, strict=True):
            if isinstance(outcome, SendError):
                if not outcome.transport:
                    outcome.transport = name
                self.trails[index].append(Attempt(name, outcome, elapsed, outcome.ambiguous))
                self.results[index] = outcome
            else:
                trail = self.trails[index]
                trail.append(Attempt(name, None, elapsed))
                # Built directly: dataclasses.replace() costs a third of this loop.
                self.results[index] = SendResult(
                    outcome.message_id,
                    outcome.transport,
                    outcome.rejected,
                    tuple(trail),
                    outcome.recipient_ids,
                )

    def retryable(self, indexes: Sequence[int], number: int) -> tuple[list[int], float]:
        """The indexes to send again after round ``number`` and how long to wait first."""
        again: list[int] = []
        wait = 0.0
        for index in indexes:
            outcome = self.results[index]
            if isinstance(outcome, SendError) and self.retry.should_retry(outcome, number):
                again.append(index)
                wait = max(wait, self.retry.delay(outcome, number))
        return again, wait

    def outcomes(self) -> list[Outcome]:
        return [outcome for outcome in self.results if outcome is not None]


def send_batched(
    transport: Transport, messages: Sequence[Message], retry: RetryPolicy
) -> list[Outcome]:
    """Send through the transport's batch endpoint; retry the retryable failures as a batch."""
    state = _BatchRound(transport, len(messages), retry)
    indexes = list(range(len(messages)))
    number = 0
    while indexes:
        number += 1
        started = retry.clock()
        outcomes = transport.send_many([messages[index] for index in indexes])
        state.record(indexes, outcomes, retry.clock() - started)
        indexes, wait = state.retryable(indexes, number)
        if indexes:
            retry.sleep(wait)
    return state.outcomes()


async def asend_batched(
    transport: Transport, messages: Sequence[Message], retry: RetryPolicy
) -> list[Outcome]:
    """Async :func:`send_batched`."""
    state = _BatchRound(transport, len(messages), retry)
    indexes = list(range(len(messages)))
    number = 0
    while indexes:
        number += 1
        started = retry.clock()
        outcomes = await transport.asend_many([messages[index] for index in indexes])
        state.record(indexes, outcomes, retry.clock() - started)
        indexes, wait = state.retryable(indexes, number)
        if indexes:
            await retry.async_sleep(wait)
    return state.outcomes()


__all__ = [
    "ASYNC_CONCURRENCY",
    "SYNC_CONCURRENCY",
    "adeliver_all",
    "asend_batched",
    "batch_limit",
    "check_concurrency",
    "deliver_all",
    "send_batched",
]
