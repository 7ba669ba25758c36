"""Import cost on a noisy machine: each statement in a fresh interpreter (warm .pyc),
timed inside the process around the statement only, statements interleaved round by
round so they see the same load; prints the median over rounds and the median of the
per-round differences to ``from pydantic import BaseModel``.

  PYTHONPATH=$PWD python benchmarks/import_alternating.py 21
"""

from __future__ import annotations

import statistics
import subprocess
import sys

STATEMENTS = {
    "pydantic": "from pydantic import BaseModel",
    "pydantic + one-field model": (
        "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int"
    ),
    "import unisend": "import unisend",
    "Mailer, Message": "from unisend import Mailer, Message",
    "Mailer, Message + first Message()": (
        "from unisend import Mailer, Message\n"
        "Message(sender='a@example.com', to='b@example.com', text='t')"
    ),
}
PROBE = (
    "import time, sys\nt = time.perf_counter()\nexec({code!r})\n"
    "print((time.perf_counter() - t) * 1e3)"
)


def once(code: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code)], capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def main(rounds: int) -> None:
    for code in STATEMENTS.values():  # write the .pyc files first
        once(code)
    times: dict[str, list[float]] = {label: [] for label in STATEMENTS}
    for _ in range(rounds):
        for label, code in STATEMENTS.items():
            times[label].append(once(code))
    base = times["pydantic"]
    print(f"{rounds} rounds, ms (median; median of per-round difference to pydantic alone)")
    for label, values in times.items():
        over = statistics.median(v - b for v, b in zip(values, base, strict=True))
        print(f"{label:36} {statistics.median(values):7.1f}   {over:+7.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
