"""The garbage collector's share of async sending at 128 in flight.

One process alternates raw ``aiohttp.ClientSession.post`` and ``AsyncMailer.send_many``
(SendGrid-shaped, against the shared HTTP stub with 50 ms latency) and reports, per round
of 2,000 messages: CPU per message, the collections of each generation with the time they
took (``gc.callbacks``), and the net number of GC-capable objects each message leaves
behind (``gc.get_count()`` with the collector paused), which is what makes generation 0
fill up: every collection then walks every object of every request still in flight.

  python ../shared/bench/http_stub.py --port 18050 --latency-ms 50 --loop uvloop &
  PYTHONPATH=$PWD python benchmarks/async_gc.py 18050 5

(arguments: stub port, rounds; needs aiohttp, i.e. the ``fast`` extra.)
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from unisend import AsyncMailer, Message, RetryPolicy
from unisend.transports import SendGridTransport

N, IN_FLIGHT, WARM_UP = 2000, 128, 200


def payload(i: int) -> dict[str, Any]:
    return {
        "personalizations": [{"to": [{"email": "rcpt@example.com"}]}],
        "from": {"email": "sender@example.com"},
        "subject": f"Benchmark {i}",
        "content": [
            {"type": "text/plain", "value": "hello"},
            {"type": "text/html", "value": "<p>x</p>"},
        ],
    }


def message(i: int) -> Message:
    return Message(
        sender="sender@example.com",
        to="rcpt@example.com",
        subject=f"Benchmark {i}",
        text="hello",
        html="<p>x</p>",
    )


class Probe:
    """Collections per generation and their time, while active."""

    def __init__(self) -> None:
        self.by_generation: dict[int, list[float]] = defaultdict(list)
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.by_generation[info["generation"]].append(time.perf_counter() - self._started)


async def measured(send: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    """CPU and collections of one ``send()``, then its net GC objects in a second one."""
    probe = Probe()
    gc.callbacks.append(probe)
    cpu = time.process_time()
    await send()
    cpu = time.process_time() - cpu
    gc.callbacks.remove(probe)
    gc.collect()
    gc.disable()
    before = gc.get_count()[0]
    await send()
    left = gc.get_count()[0] - before
    gc.enable()
    return {
        "cpu_us": cpu / N * 1e6,
        "gen0": len(probe.by_generation[0]),
        "gc_ms": sum(sum(times) for times in probe.by_generation.values()) * 1e3,
        "left": left / N,
    }


async def raw(url: str) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    headers = {"Authorization": "Bearer key"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(i: int) -> None:
            async with session.post(url + "/v3/mail/send", json=payload(i)) as response:
                await response.read()

        async def run(count: int) -> None:
            numbers = iter(range(count))

            async def worker() -> None:
                for i in numbers:
                    await one(i)

            await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))

        await run(WARM_UP)
        return await measured(lambda: run(N))


async def unisend(url: str) -> dict[str, Any]:
    transport = SendGridTransport(api_key="key", base_url=url)
    async with AsyncMailer(transport, retry=RetryPolicy(attempts=1, backoff=0)) as mailer:
        await mailer.send_many([message(i) for i in range(WARM_UP)], concurrency=IN_FLIGHT)
        messages = [message(i) for i in range(N)]
        kept = []  # the results stay alive, as a caller's would

        async def run() -> None:
            kept.append(await mailer.send_many(messages, concurrency=IN_FLIGHT))

        return await measured(run)


def main(port: int, rounds: int) -> None:
    url = f"http://127.0.0.1:{port}"
    rows: dict[str, list[dict[str, Any]]] = {"raw aiohttp": [], "unisend": []}
    for _ in range(rounds):
        rows["raw aiohttp"].append(asyncio.run(raw(url)))
        rows["unisend"].append(asyncio.run(unisend(url)))
    print(f"{rounds} rounds of {N} messages, {IN_FLIGHT} in flight; medians")
    print("| | CPU us/msg | gen-0 collections | GC ms per round | GC objects left per msg |")
    print("|---|---:|---:|---:|---:|")
    for name, each in rows.items():
        cells = [
            statistics.median(row[key] for row in each)
            for key in ("cpu_us", "gen0", "gc_ms", "left")
        ]
        print(f"| {name} | {cells[0]:.0f} | {cells[1]:.0f} | {cells[2]:.1f} | {cells[3]:.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
