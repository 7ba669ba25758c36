#!/usr/bin/env python3
"""CPU time of building a ``Message`` (validation included), optionally against an
older unisend in the same process. A measurement script, not a test.

    .venv/bin/python benchmarks/message_build.py [--rounds 60] [--batch 500]
        [--baseline PATH]

``--baseline PATH`` names a directory holding an older ``unisend`` package (e.g.
``git worktree add /tmp/base <commit>`` then ``--baseline /tmp/base``); it is copied
under another name, so both versions are timed in the same process, in alternating
batches, and the machine's load falls on both alike. Each batch builds ``--batch``
messages of one shape and is timed with ``time.process_time`` (CPU time of this
process). Printed: the 10th percentile and the median of the per-message times over
``--rounds`` batches, and their ratios to the baseline.

Shapes: ``small`` is the peer benchmark's message (sender, one recipient, subject,
text, html); ``fuller`` adds a second recipient, two headers, two tags and metadata.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def shapes(message: Any) -> dict[str, Callable[[], Any]]:
    """The message shapes timed, built with ``message`` (a Message class)."""
    return {
        "small": lambda: message(
            sender="Ann <ann@example.com>",
            to="bob@example.com",
            subject="Hello Bob",
            text="Hello Bob, " * 11,
            html="<p>Hello <b>Bob</b></p>" * 8,
        ),
        "fuller": lambda: message(
            sender="Ann <ann@example.com>",
            to=["bob@example.com", "carl@example.com"],
            subject="Hello Bob",
            text="Hello",
            headers={"X-Order": "1234", "X-Campaign": "spring"},
            tags=["order", "spring"],
            metadata={"order_id": "1234"},
        ),
    }


def per_message_us(build: Callable[[], Any], batch: int) -> float:
    start = time.process_time()
    for _ in range(batch):
        build()
    return (time.process_time() - start) / batch * 1e6


def p10(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--baseline", type=Path, help="directory holding an older unisend")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    versions: dict[str, Any] = {"current": importlib.import_module("unisend._message").Message}
    if args.baseline is not None:
        copy = Path(tempfile.mkdtemp()) / "unisend_baseline"
        shutil.copytree(args.baseline / "unisend", copy)
        sys.path.insert(0, str(copy.parent))
        versions = {
            "baseline": importlib.import_module("unisend_baseline._message").Message,
            **versions,
        }
    timed = {name: shapes(message) for name, message in versions.items()}
    results: dict[tuple[str, str], list[float]] = {
        (name, shape): [] for name in timed for shape in timed[name]
    }
    for builders in timed.values():
        for build in builders.values():
            build()  # warm caches
    for round_ in range(args.rounds):
        order = list(timed) if round_ % 2 else list(reversed(timed))
        for shape in ("small", "fuller"):
            for name in order:
                results[(name, shape)].append(per_message_us(timed[name][shape], args.batch))
    for shape in ("small", "fuller"):
        line = []
        for name in timed:
            values = results[(name, shape)]
            line.append(
                f"{name} p10 {p10(values):.1f} µs, median {statistics.median(values):.1f} µs"
            )
        if "baseline" in timed:
            base, now = results[("baseline", shape)], results[("current", shape)]
            ratio_p10 = p10(now) / p10(base)
            ratio_median = statistics.median(now) / statistics.median(base)
            line.append(f"ratio p10 {ratio_p10:.2f}, median {ratio_median:.2f}")
        print(f"{shape}: " + "; ".join(line))


if __name__ == "__main__":
    main()
