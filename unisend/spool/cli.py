"""``unisend spool``: run the worker and look after the entries.

::

    unisend spool run [--url URL] [--spool LOCATION] [--once] [--poll S] [--concurrency N]
    unisend spool list [--state S] [--limit N]
    unisend spool show ID
    unisend spool retry ID | --failed
    unisend spool purge [--state S] [--older-than 7d]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from .._errors import ConfigurationError
from .._redact import redact_url

if TYPE_CHECKING:
    from ._model import SpoolEntry, SpoolReport
    from ._spool import Spool

_DURATION = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>[smhd]?)", re.ASCII)
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_STATES = ("queued", "sending", "sent", "failed")


def duration(text: str) -> float:
    """``"90"``, ``"30s"``, ``"15m"``, ``"12h"``, ``"7d"`` -> seconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30s, 15m, 12h, 7d")
    return float(match.group("number")) * _UNIT_SECONDS[match.group("unit")]


def positive_int(text: str) -> int:
    """An ASCII decimal integer from 1 to 1,000,000."""
    if not re.fullmatch(r"[0-9]{1,7}", text, re.ASCII) or not 1 <= int(text) <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 1000000")
    return int(text)


def schedule(text: str) -> tuple[float, ...]:
    """``"60,300,900"`` (durations allowed: ``"1m,5m"``) -> seconds."""
    return tuple(duration(part) for part in text.split(","))


def add_parser(commands: Any) -> None:
    """Add ``spool`` and its actions to the ``unisend`` command's subparsers."""
    spool = commands.add_parser(
        "spool",
        help="the durable spool: run the worker, list, retry, purge",
        description="Messages no route accepted yet, kept for later delivery.",
    )
    spool.add_argument(
        "--spool",
        metavar="LOCATION",
        help="a SQLite file or postgresql:// URL (default: $UNISEND_SPOOL, "
        "else ./.unisend/spool.sqlite3)",
    )
    actions = spool.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="deliver due entries until stopped (SIGTERM/SIGINT)")
    run.add_argument("--url", metavar="URL", help="where to send (default: $UNISEND_URL)")
    run.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    run.add_argument("--poll", type=duration, default=1.0, metavar="S", help="idle wait (1s)")
    run.add_argument("--concurrency", type=positive_int, default=1, metavar="N")
    run.add_argument("--lease", type=duration, default=300.0, metavar="S", help="claim lease")
    run.add_argument("--schedule", type=schedule, metavar="S,S,...", help="retry delays")
    run.add_argument("--max-age", type=duration, metavar="S", help="give up after (4d)")
    listing = actions.add_parser("list", help="list entries, newest first")
    listing.add_argument("--state", choices=_STATES)
    listing.add_argument("--limit", type=positive_int, default=20, metavar="N")
    show = actions.add_parser("show", help="one entry with its attempts")
    show.add_argument("id", metavar="ID")
    retry = actions.add_parser("retry", help="queue a failed entry (or all) again, due now")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", metavar="ID")
    which.add_argument("--failed", action="store_true", help="every failed entry")
    purge = actions.add_parser("purge", help="delete finished entries")
    purge.add_argument("--state", choices=("sent", "failed", "queued"), default="sent")
    purge.add_argument("--older-than", type=duration, default=0.0, metavar="AGE")


def _open(args: argparse.Namespace, **options: Any) -> Spool:
    from ._spool import Spool

    return Spool(args.spool, **options)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Carry out ``unisend spool ACTION``; returns the exit code."""
    if args.action == "run":
        return _run_worker(args, out)
    with _open(args) as spool:
        if args.action == "list":
            _print_table(spool.entries(args.state, args.limit), out)
        elif args.action == "show":
            entry = spool.get(args.id)
            if entry is None:
                raise ConfigurationError(f"no spool entry {args.id!r} in {spool.location}")
            _print_entry(entry, out)
        elif args.action == "retry":
            if args.failed:
                out.write(f"{spool.retry_failed()} failed entries queued again\n")
            else:
                out.write(f"{spool.retry(args.id).id} queued again\n")
        elif args.action == "purge":
            removed = spool.purge(state=args.state, older_than=args.older_than)
            out.write(f"{removed} {args.state} entries purged\n")
    return 0


def _when(entry_time: Any) -> str:
    return "-" if entry_time is None else entry_time.strftime("%Y-%m-%d %H:%M:%S")


def _print_table(entries: list[SpoolEntry], out: TextIO) -> None:
    out.write(
        f"{'ID':<20}  {'STATE':<7}  {'TRIES':>5}  {'CREATED (UTC)':<19}  "
        f"{'NEXT (UTC)':<19}  LAST ERROR\n"
    )
    for entry in entries:
        error = (entry.last_error or "").replace("\n", " ")
        out.write(
            f"{entry.id:<20}  {entry.state:<7}  {entry.attempts:>5}  "
            f"{_when(entry.created_at):<19}  {_when(entry.next_attempt_at):<19}  {error[:60]}\n"
        )


def _print_entry(entry: SpoolEntry, out: TextIO) -> None:
    message = entry.message
    fields = [
        ("id", entry.id),
        ("state", entry.state),
        ("attempts", str(entry.attempts)),
        ("created", _when(entry.created_at)),
        ("next attempt", _when(entry.next_attempt_at)),
        ("key", entry.key or "-"),
        ("transport", entry.transport or "-"),
        ("message id", entry.message_id or "-"),
        ("last error", entry.last_error or "-"),
        ("subject", message.subject),
        ("to", ", ".join(str(address) for address in message.to)),
    ]
    for name, value in fields:
        out.write(f"{name + ':':<14}{value}\n")
    out.write("history:\n")
    for record in entry.history:
        flag = " (ambiguous)" if record.get("ambiguous") else ""
        error = f": {record['error']}" if record.get("error") else ""
        route = record.get("transport") or "-"
        out.write(f"  {record.get('at')}  {record.get('outcome')} via {route}{flag}{error}\n")


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run_worker(args: argparse.Namespace, out: TextIO) -> int:
    from .._mailer import Mailer

    options: dict[str, Any] = {"lease": args.lease}
    if args.schedule:
        options["schedule"] = args.schedule
    if args.max_age:
        options["max_age"] = args.max_age
    url = args.url or os.environ.get("UNISEND_URL")
    if not url:
        raise ConfigurationError(
            "the spool worker needs a route: pass --url or set UNISEND_URL "
            "(it never sends into the local sandbox by default)"
        )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    spool_logger = logging.getLogger("unisend.spool")
    spool_logger.addHandler(handler)
    spool_logger.setLevel(logging.INFO)
    stop = threading.Event()
    total = _Totals(sys.stderr.isatty())
    try:
        with (
            _stop_on_signals(stop),
            _open(args, **options) as spool,
            Mailer.from_url(url) as mailer,
        ):
            spool_logger.info(
                "spool worker started: %s -> %s (SIGTERM or Ctrl-C stops it)",
                spool.location,
                redact_url(url),
            )
            if args.once:
                total.add(spool.deliver(mailer, concurrency=args.concurrency, stop=stop), spool)
            else:
                spool.run(
                    mailer,
                    stop=stop,
                    poll=args.poll,
                    concurrency=args.concurrency,
                    on_pass=lambda report: total.add(report, spool),
                )
    finally:
        spool_logger.removeHandler(handler)
        total.finish()
    out.write(f"sent {total.sent}, deferred {total.deferred}, failed {total.failed}\n")
    return 0


class _Totals:
    """Running totals, redrawn on one line of a terminal."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.sent = self.deferred = self.failed = 0

    def add(self, report: SpoolReport, spool: Spool) -> None:
        self.sent += report.sent
        self.deferred += report.deferred
        self.failed += report.failed
        if self.tty and report.total:
            depth = spool.counts()
            sys.stderr.write(
                f"\rsent {self.sent} · deferred {self.deferred} · failed {self.failed} · "
                f"queued {depth['queued']} · sending {depth['sending']}\x1b[K"
            )
            sys.stderr.flush()

    def finish(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


__all__ = ["add_parser", "duration", "run"]
