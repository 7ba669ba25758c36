"""Spool benchmarks, side by side in one run (medians of ``--repeats`` runs):

* ``put``: one durable commit each (SQLite, ``synchronous=FULL``), msgs/s; beside the
  nearest peer a Python user would pick: Celery's ``send_later`` enqueue on a local Redis.
* ``put_many(1000)``: one transaction, msgs/s.
* ``drain to memory://``: ``Spool.deliver`` through ``Mailer(memory://)``, msgs/s.
* ``drain through Postmark's batch endpoint`` (the HTTP stub) vs ``Mailer.send_many`` of the
  same messages without a spool (messages built inside the timed section on both sides: the
  drain rebuilds each from its stored JSON): ratio.
* PostgreSQL: 4 worker processes draining vs 1, against the stub answering 20 ms late: ratio.

Usage (from the repository root, in the dev venv; PostgreSQL and Redis binaries on PATH or
in /usr/lib/postgresql/*/bin; the HTTP stub is ``../shared/bench/http_stub.py``)::

    .venv/bin/python benchmarks/spool.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT.parent / "shared" / "bench" / "http_stub.py"
sys.path.insert(0, str(ROOT / "tests"))


def messages(n: int, tag: str = "m") -> list[Any]:
    from unisend import Message

    return [
        Message(sender="shop@example.com", to="bob@example.com", subject=f"{tag}{i}", text="hi")
        for i in range(n)
    ]


@contextmanager
def http_stub(*options: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(STUB), "--loop", "asyncio", *options],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    port = json.loads(line)["port"] if line.startswith("{") else int(line.split(":")[-1])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


def rate(count: int, seconds: float) -> float:
    return count / seconds


def bench_put(tmp: Path, n: int) -> float:
    from unisend import Spool

    with Spool(tmp / f"put-{time.monotonic_ns()}.sqlite3") as spool:
        batch = messages(n)
        start = time.perf_counter()
        for message in batch:
            spool.put(message)
        return rate(n, time.perf_counter() - start)


def bench_put_many(tmp: Path, n: int) -> float:
    from unisend import Spool

    with Spool(tmp / f"many-{time.monotonic_ns()}.sqlite3") as spool:
        batch = messages(n)
        start = time.perf_counter()
        spool.put_many(batch)
        return rate(n, time.perf_counter() - start)


def bench_drain_memory(tmp: Path, n: int) -> float:
    from unisend import Mailer, RetryPolicy, Spool

    with Spool(tmp / f"drain-{time.monotonic_ns()}.sqlite3") as spool:
        spool.put_many(messages(n))
        mailer = Mailer("memory://", retry=RetryPolicy(attempts=1, backoff=0))
        start = time.perf_counter()
        report = spool.deliver(mailer)
        assert report.sent == n, report
        return rate(n, time.perf_counter() - start)


def bench_drain_postmark(tmp: Path, n: int, base_url: str) -> tuple[float, float]:
    """(spool drain msgs/s, plain send_many msgs/s) through the batch endpoint."""
    from unisend import Mailer, RetryPolicy, SendResult, Spool

    url = f"postmark://token@default?base_url={base_url}"
    with Mailer(url, retry=RetryPolicy(attempts=1, backoff=0)) as mailer:
        mailer.send_many(messages(2, "warm-up"))
        start = time.perf_counter()
        # Built inside the timed section, as the drain builds each Message from its JSON
        # (and as the peer harness's cases build theirs).
        results = mailer.send_many(messages(n, "plain"))
        plain = rate(n, time.perf_counter() - start)
        assert all(isinstance(r, SendResult) for r in results)
        with Spool(tmp / f"pm-{time.monotonic_ns()}.sqlite3") as spool:
            spool.put_many(messages(n, "spooled"))
            start = time.perf_counter()
            report = spool.deliver(mailer)
            spooled = rate(n, time.perf_counter() - start)
            assert report.sent == n, report
    return spooled, plain


def bench_celery_enqueue(redis_url: str, n: int) -> float:
    from celery import Celery

    from unisend.contrib.celery import send_later

    app = Celery("bench", broker=redis_url, set_as_current=True)
    app.conf.broker_connection_retry_on_startup = True
    batch = messages(n)
    send_later(batch[0])  # connect first
    start = time.perf_counter()
    for message in batch:
        send_later(message)
    return rate(n, time.perf_counter() - start)


@contextmanager
def redis_server() -> Iterator[str]:
    from spool.conftest import _free_port

    port = _free_port()
    proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait()


def bench_postgres_workers(pg_base: str, n: int, workers: int, stub_url: str) -> float:
    import psycopg

    from unisend import Spool

    name = f"bench_{workers}_{time.monotonic_ns()}"
    with psycopg.connect(f"{pg_base}/postgres", autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    location = f"{pg_base}/{name}"
    with Spool(location) as spool:
        spool.put_many(messages(n))
    url = f"failover(sendgrid://key@default?base_url={stub_url})?attempts=1&backoff=0"
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "unisend",
                "spool",
                "--spool",
                location,
                "run",
                "--once",
                "--url",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    for proc in procs:
        proc.wait()
    elapsed = time.perf_counter() - start
    with Spool(location) as spool:
        assert spool.counts()["sent"] == n, spool.counts()
    return rate(n, elapsed)


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    from spool.conftest import postgres_server

    tmp = Path(tempfile.mkdtemp(prefix="unisend-spool-bench-"))
    runs: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        runs.setdefault(name, []).append(value)

    pg = postgres_server.__wrapped__()
    pg_base = next(pg)
    try:
        with http_stub() as stub, http_stub("--latency-ms", "20") as slow, redis_server() as redis:
            for _ in range(args.repeats):
                record("put (SQLite, durable)", bench_put(tmp, 500))
                record("celery send_later (Redis)", bench_celery_enqueue(redis, 500))
                record("put_many(1000)", bench_put_many(tmp, 1000))
                record("drain to memory://", bench_drain_memory(tmp, args.n))
                spooled, plain = bench_drain_postmark(tmp, args.n, stub)
                record("drain postmark batch", spooled)
                record("send_many postmark batch", plain)
                record("drain/send_many ratio", spooled / plain)
                one = bench_postgres_workers(pg_base, 400, 1, slow)
                four = bench_postgres_workers(pg_base, 400, 4, slow)
                record("postgres 1 worker (20 ms)", one)
                record("postgres 4 workers (20 ms)", four)
                record("postgres 4/1 ratio", four / one)
    finally:
        try:
            next(pg)
        except StopIteration:
            pass
        shutil.rmtree(tmp, ignore_errors=True)
    print("| case | median | runs |")
    print("|---|---:|---|")
    for name, values in runs.items():
        shown = ", ".join(f"{v:,.2f}" for v in values)
        print(f"| {name} | {median(values):,.2f} | {shown} |")


if __name__ == "__main__":
    main()
