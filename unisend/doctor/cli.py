"""The ``unisend doctor`` subcommand: ``add_parser`` registers it, ``run`` executes it.

::

    unisend doctor [--url URL] [--domain D] [--json] [--nameserver IP[:PORT]]...
                   [--no-login] [--timeout S]

Exit status 0 when no check failed, 1 when one did, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any, TextIO


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``doctor`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    doctor: argparse.ArgumentParser = subparsers.add_parser(
        "doctor",
        help="check why mail does not leave: connection, TLS, login, sender DNS",
        description="Check the route(s) of a URL (connection, TLS, certificate, login or API "
        "key) and, with --domain, the sender domain's MX, SPF, DKIM and DMARC. Never sends mail.",
    )
    doctor.add_argument("--url", metavar="URL", help="the URL to check (default: $UNISEND_URL)")
    doctor.add_argument("--domain", metavar="D", help="the sender domain, e.g. example.com")
    doctor.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    doctor.add_argument(
        "--nameserver",
        action="append",
        default=[],
        metavar="IP[:PORT]",
        help="ask this DNS server instead of the system's (repeatable)",
    )
    doctor.add_argument(
        "--no-login", action="store_true", help="do not try to log in (no AUTH attempt)"
    )
    doctor.add_argument(
        "--timeout",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="finish within about S seconds (default 10)",
    )
    return doctor


def _colour(out: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the doctor for parsed ``args``; print the report (or JSON); return the exit
    status. A bad argument raises :class:`~unisend.ConfigurationError`."""
    from ._report import render
    from ._run import diagnose

    out = out or sys.stdout
    diagnosis = diagnose(
        args.url,
        domain=args.domain,
        timeout=args.timeout,
        nameservers=args.nameserver,
        login=not args.no_login,
    )
    if args.json:
        out.write(json.dumps(diagnosis.to_dict(), indent=2) + "\n")
    else:
        out.write(render(diagnosis, colour=_colour(out)))
    return 0 if diagnosis.ok else 1


__all__ = ["add_parser", "run"]
