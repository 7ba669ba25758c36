"""``send_many``'s concurrency: many plans in flight, results in input order.

The plans themselves (retry, routing, batch rounds) are :mod:`unisend._delivery`'s; this
module only runs a function over a list, ``concurrency`` at a time: worker threads (sync;
1 sends in the calling thread, so one SMTP connection serves the whole list) or worker
tasks (async) that take the next item when they are done with one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from ._errors import ConfigurationError

if TYPE_CHECKING:
    from .transports.base import Transport

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E", bound=BaseException)

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


def map_threads(
    function: Callable[[T], R],
    items: Sequence[T],
    concurrency: int,
    returned: type[E],
) -> list[R | E]:
    """``function`` over ``items`` in at most ``concurrency`` threads, results in order;
    an exception of type ``returned`` is the item's result."""

    def item_result(item: T) -> R | E:
        try:
            return function(item)
        except returned as exc:
            return exc

    if concurrency == 1 or len(items) <= 1:
        return [item_result(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor  # not paid for by ``import unisend``

    pool = ThreadPoolExecutor(
        max_workers=min(concurrency, len(items)), thread_name_prefix="unisend-send"
    )
    try:
        results = list(pool.map(item_result, items))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


async def map_tasks(
    function: Callable[[T], Awaitable[R]],
    items: Sequence[T],
    concurrency: int,
    returned: type[E],
) -> list[R | E]:
    """``function`` over ``items`` with at most ``concurrency`` awaiting, results in order;
    an exception of type ``returned`` is the item's result. If another one is raised,
    the others are cancelled and it is raised."""
    import asyncio  # loaded already in any async caller

    results: list[R | E | None] = [None] * len(items)
    pending = iter(range(len(items)))  # shared: each worker takes the next index

    async def worker() -> None:
        # ``function``'s awaitable is awaited here, not in a wrapper coroutine: each
        # layer is resumed at every suspension and kept alive while the item is in flight.
        for index in pending:
            try:
                results[index] = await function(items[index])
            except returned as exc:
                results[index] = exc

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(items)))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return results  # type: ignore[return-value]  # every index was filled


__all__ = [
    "ASYNC_CONCURRENCY",
    "SYNC_CONCURRENCY",
    "batch_limit",
    "check_concurrency",
    "map_tasks",
    "map_threads",
]
