"""What the delivery engine itself costs per send (no network): Mailer.send over a
MemoryTransport, a send retried once (ScriptedTransport ["503", "ok"], reset each time),
Failover, and AsyncMailer.send. Medians of 5 runs of 20,000 sends, in microseconds.

  .venv/bin/python benchmarks/engine_overhead.py                     # this checkout
  PYTHONPATH=/tmp/engine-old .venv/bin/python benchmarks/engine_overhead.py   # another one

(/tmp/engine-old: ``git archive <rev> unisend | tar -x -C /tmp/engine-old``.) This is how
tenacity was weighed against the plan's own few lines (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

from unisend import AsyncMailer, Failover, Mailer, Message, RetryPolicy
from unisend.transports import MemoryTransport, ScriptedTransport

N = 20_000
MESSAGE = Message(sender="a@example.com", to="b@example.com", subject="s", text="t")
POLICY = RetryPolicy(attempts=3, backoff=0, sleep=lambda seconds: None)


def bench(label: str, send: Callable[[], object]) -> None:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(N):
            send()
        runs.append((time.perf_counter() - started) / N * 1e6)
    print(f"{label}: {statistics.median(runs):.2f} us")


def main() -> None:
    memory = Mailer(MemoryTransport(), retry=POLICY)
    bench("Mailer.send, MemoryTransport", lambda: memory.send(MESSAGE))
    scripted = ScriptedTransport(["503", "ok"])
    retried = Mailer(scripted, retry=POLICY)

    def once_retried() -> object:
        scripted.reset()
        return retried.send(MESSAGE)

    bench("Mailer.send retried once (503, ok)", once_retried)
    failover = Mailer(Failover([ScriptedTransport(["ok"]), MemoryTransport()]), retry=POLICY)
    bench("Mailer.send through Failover", lambda: failover.send(MESSAGE))
    mailer = AsyncMailer(MemoryTransport(), retry=POLICY)

    async def many() -> None:
        for _ in range(N):
            await mailer.send(MESSAGE)

    started = time.perf_counter()
    asyncio.run(many())
    print(f"AsyncMailer.send, MemoryTransport: {(time.perf_counter() - started) / N * 1e6:.2f} us")


if __name__ == "__main__":
    main()
