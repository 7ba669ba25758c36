"""The fault soak at scale: 10,000 sends through three routes with 30 % random faults.

Not a test (tests/resilience/test_soak.py is the CI-sized one); it prints the figures::

    .venv/bin/python benchmarks/soak.py            # 10,000 sends per scenario
    .venv/bin/python benchmarks/soak.py --sends 2000 --seed 3

Scenarios:

* ``scripted-failover`` / ``scripted-roundrobin``: three ScriptedTransport routes whose
  scripts draw, with probability 0.3 per send, one of every kind of fault (5xx, timeout
  (ambiguous, and the provider kept the message), reset, refused, 429 with a short and an
  over-the-maximum Retry-After, 401, 403, 400, 422); sync, sequential.
* ``scripted-async-gather``: the same through ``adeliver``, 200 sends in flight.
* ``stub-roundrobin``: SendGrid, Postmark and Mailjet transports on the HTTP stub of
  ../shared/bench with ``--fault-rate 0.3`` over 500, 503, 429, 401, 403 and 422.

Each one checks the books: delivered + raised == sent; 0 false successes (each
SendResult's message is held by the route it names; on the stub, accepted requests ==
SendResults); copies of a message only where an attempt was marked ambiguous. Waits run
on a fake clock, so the figures measure the routing, not the backoff.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from unisend import (
    AllRoutesFailed,
    Attempt,
    Failover,
    Message,
    MessageRejected,
    RetryPolicy,
    RoundRobin,
    SendError,
    SendResult,
)
from unisend.transports import (
    MailjetTransport,
    PostmarkTransport,
    ScriptedTransport,
    SendGridTransport,
)
from unisend.transports.base import Transport

FAULTS = [
    "500",
    "503",
    "timeout",
    "reset",
    "refused",
    "429:0.5",
    "429:600",
    "401",
    "403",
    "422",
    "400",
]
STUB = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "http_stub.py"
current: contextvars.ContextVar[list[Attempt]] = contextvars.ContextVar("current")


class FakeClock:
    """Monotonic time that moves only when something sleeps or the loop advances it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def scripted_routes(seed: int, sends: int) -> list[ScriptedTransport]:
    rng = random.Random(seed)
    return [
        ScriptedTransport(
            [rng.choice(FAULTS) if rng.random() < 0.3 else "ok" for _ in range(4 * sends)],
            name=name,
        )
        for name in ("a", "b", "c")
    ]


def router(kind: str, routes: list[Transport], clock: FakeClock) -> Transport:
    def record(attempt: Attempt) -> None:
        current.get().append(attempt)

    if kind == "failover":
        return Failover(routes, cooldown=3, on_attempt=record, _clock=clock)
    return RoundRobin(routes, weights=[3, 2, 1], cooldown=3, on_attempt=record, _clock=clock)


def policy(clock: FakeClock) -> RetryPolicy:
    return RetryPolicy(
        attempts=3,
        backoff=0.2,
        max_retry_after=60,
        sleep=clock.sleep,
        async_sleep=clock.async_sleep,
        clock=clock,
    )


def messages(count: int) -> list[Message]:
    return [
        Message(sender="soak@example.com", to="rcpt@example.com", subject=f"soak {i}", text="soak")
        for i in range(count)
    ]


def books(
    outcomes: list[SendResult | SendError],
    trails: list[list[Attempt]],
    sent: list[Message],
    held: dict[str, list[Message]] | None,
) -> dict[str, Any]:
    """The figures, and the checks of the invariants (a failed check is reported)."""
    figures: Counter[str] = Counter()
    copies: Counter[int] = Counter()
    for kept in (held or {}).values():
        for message in kept:
            copies[id(message)] += 1
    false_successes = unexplained_copies = 0
    for message, outcome, trail in zip(sent, outcomes, trails, strict=True):
        ambiguous = sum(a.ambiguous for a in trail)
        figures["tries"] += len(trail)
        figures["ambiguous attempts"] += ambiguous
        if isinstance(outcome, SendResult):
            figures["delivered"] += 1
            if held is not None and not any(m is message for m in held[outcome.transport]):
                false_successes += 1
            expected = 1 + ambiguous
        else:
            figures[f"raised {type(outcome).__name__}"] += 1
            if not isinstance(outcome, (AllRoutesFailed, MessageRejected)):
                figures["raised something else"] += 1
            expected = ambiguous
        if held is not None:
            unexplained_copies += copies[id(message)] != expected
            figures["duplicates"] += max(0, copies[id(message)] - 1)
    raised = sum(v for k, v in figures.items() if k.startswith("raised "))
    result: dict[str, Any] = {"sent": len(sent), **figures}
    result["delivered + raised == sent"] = figures["delivered"] + raised == len(sent)
    if held is not None:
        result["false successes"] = false_successes
        result["copies not explained by an ambiguous attempt"] = unexplained_copies
    return result


def run_sync(
    kind: str, routes: list[Transport], count: int, held: dict[str, list[Message]] | None
) -> tuple[dict[str, Any], float]:
    clock = FakeClock()
    mail = router(kind, routes, clock)
    sent = messages(count)
    outcomes: list[SendResult | SendError] = []
    trails: list[list[Attempt]] = []
    started = time.perf_counter()
    for message in sent:
        trail: list[Attempt] = []
        current.set(trail)
        clock.now += 1.0
        try:
            outcomes.append(mail.deliver(message, policy(clock)))
        except SendError as error:
            outcomes.append(error)
        trails.append(trail)
    elapsed = time.perf_counter() - started
    mail.close()
    return books(outcomes, trails, sent, held), elapsed


def run_async(routes: list[ScriptedTransport], count: int) -> tuple[dict[str, Any], float]:
    clock = FakeClock()
    mail = router("roundrobin", list(routes), clock)
    sent = messages(count)
    trails: list[list[Attempt]] = [[] for _ in sent]

    async def one(i: int) -> SendResult | SendError:
        current.set(trails[i])
        clock.now += 0.01
        try:
            return await mail.adeliver(sent[i], policy(clock))
        except SendError as error:
            return error

    async def main() -> list[SendResult | SendError]:
        out: list[SendResult | SendError] = []
        for start in range(0, count, 200):
            out += await asyncio.gather(*(one(i) for i in range(start, min(count, start + 200))))
        return out

    started = time.perf_counter()
    outcomes = asyncio.run(main())
    elapsed = time.perf_counter() - started
    held = {r.name: r.sent for r in routes}
    return books(outcomes, trails, sent, held), elapsed


def run_stub(count: int, seed: int) -> tuple[dict[str, Any], float]:
    command = [
        sys.executable,
        str(STUB),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--fault-rate",
        "0.3",
        "--fault-status",
        "500,503,429,401,403,422",
        "--retry-after",
        "0",
        "--fault-seed",
        str(seed),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        url = f"http://127.0.0.1:{info['port']}"
        routes: list[Transport] = [
            SendGridTransport(api_key="SG.k", base_url=url),
            PostmarkTransport(server_token="pm-token", base_url=url),
            MailjetTransport(api_key="mj", secret_key="mj-secret", base_url=url),
        ]
        figures, elapsed = run_sync("roundrobin", routes, count, None)
        import httpx

        stats = httpx.get(f"{url}/_stats").json()
    finally:
        process.terminate()
        process.wait(10)
    figures["stub accepted messages"] = stats["messages"]
    figures["stub requests"] = stats["requests"]
    figures["false successes"] = figures.get("delivered", 0) - stats["messages"]
    figures["stub requests == tries"] = stats["requests"] == figures["tries"]
    return figures, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--no-stub", action="store_true", help="skip the HTTP stub scenario")
    args = parser.parse_args()
    scenarios: list[tuple[str, tuple[dict[str, Any], float]]] = []
    for kind in ("failover", "roundrobin"):
        routes = scripted_routes(args.seed, args.sends)
        held = {r.name: r.sent for r in routes}
        scenarios.append((f"scripted-{kind}", run_sync(kind, list(routes), args.sends, held)))
    routes = scripted_routes(args.seed + 1, args.sends)
    scenarios.append(("scripted-async-gather", run_async(routes, args.sends)))
    if not args.no_stub:
        scenarios.append(("stub-roundrobin", run_stub(args.sends, args.seed % 1000)))
    ok = True
    for name, (figures, elapsed) in scenarios:
        print(
            f"== {name}: {args.sends} sends in {elapsed:.2f} s "
            f"({args.sends / elapsed:,.0f} sends/s)"
        )
        for key, value in figures.items():
            print(f"   {key}: {value}")
        ok &= bool(figures["delivered + raised == sent"])
        ok &= figures.get("false successes", 0) == 0
        ok &= figures.get("copies not explained by an ambiguous attempt", 0) == 0
        ok &= figures.get("raised something else", 0) == 0
        ok &= figures.get("stub requests == tries", True) is True
    print("books balance" if ok else "BOOKS DO NOT BALANCE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
