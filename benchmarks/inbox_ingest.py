"""SMTP ingest of ``unisend sandbox serve``: messages per second with 8 concurrent
smtplib clients, plus start and stop times.

    .venv/bin/python benchmarks/inbox_ingest.py [--n 4000] [--repeats 3] [--clients 8]

Each repeat starts a fresh server (a subprocess, as a user runs it) over a fresh store on
free loopback ports, then 8 threads send ``n`` messages in total with smtplib (not
unisend): once over one kept-open connection per client ("reuse", how Django's
``send_messages`` and most pools send) and once with a new connection per message
("connect", how a one-off ``send_mail`` sends). Every message must then be listed by the
API. The same clients also send to the inbox's own SMTP server with the store left out
(``sink``: every check, nothing kept): the ceiling of aiosmtpd and of these clients on
this machine, in the same run, so the ratio is what storing costs.

The peer is Mailpit's published figure (README of axllent/mailpit v1.30.5: "ingest
200-300 msg/s"); no Mailpit binary can be installed from a package registry here (it is a
Go program; PyPI and npm carry only API clients and Debian's Go is too old to build it),
so it is not run side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from pathlib import Path

import httpx

#: Mailpit's own figure (README, v1.30.5): messages per second it ingests.
MAILPIT_PUBLISHED = (200, 300)
OUT = Path(__file__).resolve().parent / "out"


def message(i: int) -> bytes:
    """A ~3 KB multipart/alternative message with a small attachment, as apps send."""
    m = EmailMessage()
    m["From"] = "Shop <orders@shop.example>"
    m["To"] = f"customer{i}@example.com"
    m["Subject"] = f"Your order #{i} has shipped"
    m.set_content(f"Hello,\n\nyour order #{i} is on its way.\n" * 8)
    m.add_alternative(f"<p>Hello,</p><p>your order <b>#{i}</b> is on its way.</p>" * 8, "html")
    m.add_attachment(b"%PDF-1.4 " + bytes(range(256)) * 4, "application", "pdf", filename="i.pdf")
    return m.as_bytes(policy=policy.SMTP)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(store: Path) -> tuple[subprocess.Popen[str], int, str, float, float]:
    """Start the server; ``(process, smtp port, web url, seconds to the banner, CPU
    seconds it used until then)``: on a loaded machine the CPU time is the steadier one."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "unisend", "sandbox", "serve", "--path", str(store)),
            *("--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    banner = ""
    while "Press Ctrl-C" not in banner:
        if process.poll() is not None:
            raise RuntimeError(f"the server did not start: {process.stderr.read()}")  # type: ignore[union-attr]
        if selector.select(0.01):
            banner += os.read(process.stdout.fileno(), 65536).decode()
    took = time.perf_counter() - began
    cpu = cpu_seconds(process.pid)
    smtp = re.search(r"SMTP\s+\S+:(\d+)", banner)
    web = re.search(r"Web\s+(\S+?)/?\n", banner)
    assert smtp and web, banner
    return process, int(smtp.group(1)), web.group(1), took, cpu


def start_sink() -> tuple[subprocess.Popen[str], int]:
    """A bare aiosmtpd server that answers 250 to everything and keeps nothing."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-sink"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def serve_sink() -> None:
    import asyncio

    from unisend.server.smtp import Handler, Sessions

    async def discard(raw: bytes, sender: str, recipients: object) -> int:
        return 0

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Sessions(Handler(discard)), "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()

    asyncio.run(run())


def stop(process: subprocess.Popen[str]) -> tuple[int, float]:
    began = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    return process.returncode, time.perf_counter() - began


def ingest(port: int, n: int, clients: int, reuse: bool, payloads: list[bytes]) -> float:
    """Seconds for ``clients`` threads to send ``n`` messages."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def worker(k: int) -> None:
        mine = range(k, n, clients)
        try:
            barrier.wait()
            if reuse:
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                    for i in mine:
                        client.sendmail("orders@shop.example", [f"c{i}@example.com"], payloads[i])
            else:
                for i in mine:
                    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                        client.sendmail("orders@shop.example", [f"c{i}@example.com"], payloads[i])
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - began
    if errors:
        raise errors[0]
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="messages per repeat and mode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--serve-sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        serve_sink()
        return
    payloads = [message(i) for i in range(args.n)]
    rows: list[dict[str, object]] = []
    for repeat in range(args.repeats):
        for reuse in (True, False):
            with tempfile.TemporaryDirectory() as folder:
                process, port, url, started, cpu = start(Path(folder) / "store.sqlite3")
                try:
                    took = ingest(port, args.n, args.clients, reuse, payloads)
                    total = httpx.get(f"{url}/api/messages?limit=0", trust_env=False).json()
                    assert total["total"] == args.n, total
                finally:
                    code, stopped = stop(process)
                assert code == 0, code
            row = {
                "repeat": repeat,
                "mode": "reuse" if reuse else "connect",
                "n": args.n,
                "clients": args.clients,
                "seconds": round(took, 3),
                "msgs_per_s": round(args.n / took, 1),
                "start_s": round(started, 3),
                "start_cpu_s": round(cpu, 3),
                "stop_s": round(stopped, 3),
                "size": len(payloads[0]),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        sink, port = start_sink()
        try:
            took = ingest(port, args.n, args.clients, True, payloads)
        finally:
            stop(sink)
        row = {"repeat": repeat, "mode": "sink", "n": args.n, "clients": args.clients}
        row |= {"seconds": round(took, 3), "msgs_per_s": round(args.n / took, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    low, high = MAILPIT_PUBLISHED

    def median(mode: str, key: str = "msgs_per_s") -> float:
        return statistics.median(float(r[key]) for r in rows if r["mode"] == mode)  # type: ignore[arg-type]

    sink = median("sink")
    lines = [
        f"| mode | msgs/s (median of {args.repeats}) | vs Mailpit 200 | vs Mailpit 300 | "
        "of the no-store sink |",
        "|---|---|---|---|---|",
    ]
    for mode in ("reuse", "connect"):
        rate = median(mode)
        lines.append(
            f"| {mode} | {rate:,.0f} | {rate / low:.2f}x | {rate / high:.2f}x | {rate / sink:.2f} |"
        )
    lines.append(f"| the same SMTP server, nothing stored (reuse) | {sink:,.0f} | | | 1.00 |")
    start_median = statistics.median(float(r["start_s"]) for r in rows if "start_s" in r)  # type: ignore[arg-type]
    cpu_median = statistics.median(float(r["start_cpu_s"]) for r in rows if "start_s" in r)  # type: ignore[arg-type]
    stop_median = statistics.median(float(r["stop_s"]) for r in rows if "stop_s" in r)  # type: ignore[arg-type]
    lines.append("")
    lines.append(
        f"start (spawn to banner) median {start_median:.2f} s wall, {cpu_median:.2f} s CPU; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; SIGTERM to exit median "
        f"{stop_median:.2f} s; message size {rows[0]['size']} bytes; {args.clients} clients"
    )
    report = "\n".join(lines)
    print(report)
    OUT.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (OUT / f"inbox-{stamp}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (OUT / f"inbox-{stamp}.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
