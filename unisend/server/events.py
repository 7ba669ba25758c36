"""Live notifications: ``GET /api/events`` (Server-Sent Events).

One poller watches ``max(id)`` of the store (so mail stored by ``sandbox://`` in other
processes shows up too, within :data:`POLL_INTERVAL`), and SMTP ingest wakes it at once.
Each new id is sent to every open stream as ``event: message`` with ``{"id": N}``.
Closing the broker ends every stream, so shutdown never waits on a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from .store import Store

#: Seconds between two looks at the store for mail written by other processes.
POLL_INTERVAL = 0.25
#: Seconds between keep-alive comments on an idle stream.
KEEPALIVE = 15.0
#: Open streams at once, at most (each holds a queue).
MAX_STREAMS = 64
#: Pending events per stream before a slow reader is dropped (its browser reconnects).
QUEUE_SIZE = 1000

_CLOSED = -1


class Broker:
    """Fans out new message ids to the open streams."""

    def __init__(self, store: Store, interval: float = POLL_INTERVAL) -> None:
        self._store = store
        self._interval = interval
        self._queues: set[asyncio.Queue[int]] = set()
        self._wake = asyncio.Event()
        self._closed = False
        self._last = 0

    async def run(self) -> None:
        """Poll until :meth:`close`."""
        self._last = await asyncio.to_thread(self._store.max_id)
        while not self._closed:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            if self._closed:
                break
            try:
                fresh = await asyncio.to_thread(self._store.ids_after, self._last)
            except Exception:  # a locked or vanished file: try again next round
                continue
            for new_id in fresh:
                self._last = max(self._last, new_id)
                self._publish(new_id)

    def notify(self) -> None:
        """Look at the store now (a message was just stored)."""
        self._wake.set()

    def _publish(self, new_id: int) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(new_id)
            except asyncio.QueueFull:
                self._drop(queue)

    def _drop(self, queue: asyncio.Queue[int]) -> None:
        self._queues.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(_CLOSED)

    def subscribe(self) -> asyncio.Queue[int] | None:
        """A queue of new ids, or None when closed or full."""
        if self._closed or len(self._queues) >= MAX_STREAMS:
            return None
        queue: asyncio.Queue[int] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[int]) -> None:
        """Forget ``queue``."""
        self._queues.discard(queue)

    def close(self) -> None:
        """End every stream and the poller."""
        self._closed = True
        self._wake.set()
        for queue in list(self._queues):
            self._drop(queue)


class EventStream:
    """The ASGI endpoint of ``GET /api/events``."""

    def __init__(self, broker: Broker, keepalive: float = KEEPALIVE) -> None:
        self._broker = broker
        self._keepalive = keepalive

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Stream events until the client leaves or the server stops."""
        queue = self._broker.subscribe()
        if queue is None:
            body = b'{"error": "too many open event streams, or the server is stopping"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            first = b"retry: 1000\n\n"  # the browser reconnects after 1 s
            await send({"type": "http.response.body", "body": first, "more_body": True})
            while True:
                item = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {item, gone}, timeout=self._keepalive, return_when=asyncio.FIRST_COMPLETED
                )
                if gone in done:
                    item.cancel()
                    return
                if item not in done:
                    item.cancel()
                    chunk = b": keep-alive\n\n"
                else:
                    new_id = item.result()
                    if new_id == _CLOSED:
                        break
                    data = json.dumps({"id": new_id})
                    chunk = f"event: message\ndata: {data}\n\n".encode()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away mid-write
            return
        finally:
            gone.cancel()
            self._broker.unsubscribe(queue)


async def _disconnected(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
