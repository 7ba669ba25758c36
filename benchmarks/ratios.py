"""Per-repeat ratios between any two cases of one peers.py run, and their median.

peers.py gives each case's ratio to its own limit case; the issue's targets also compare
unisend with a vendor SDK (or a batch with one request per message) measured in the same
run. This reads the run's JSON lines and, for each pair A/B, divides A's msgs/s by B's
msgs/s within each repeat, then takes the median of those ratios.

  python benchmarks/ratios.py benchmarks/out/peers-<stamp>.jsonl            # default pairs
  python benchmarks/ratios.py FILE unisend_sendgrid/sendgrid_sdk ...         # chosen pairs
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict

DEFAULT_PAIRS = [
    "unisend_smtp/smtplib_reuse",
    "unisend_smtp/django_smtp",
    "unisend_sendgrid/httpx_sync",
    "unisend_sendgrid/sendgrid_sdk",
    "unisend_sendgrid/anymail_sendgrid",
    "unisend_postmark/httpx_sync",
    "unisend_postmark/postmarker",
    "unisend_postmark/anymail_postmark",
    "unisend_mailjet/httpx_sync",
    "unisend_mailjet/mailjet_rest",
    "unisend_brevo/httpx_sync",
    "unisend_brevo/brevo_python",
    "unisend_brevo/sib_api_v3_sdk",
    "unisend_mailtrap/httpx_sync",
    "unisend_mailtrap_tls/httpx_sync_tls",
    "unisend_mailtrap_tls/mailtrap_sending_api",
    "unisend_mailtrap_tls/mailtrap_sdk",
    "unisend_postmark_batch/unisend_postmark",
    "unisend_mailtrap_batch/unisend_mailtrap",
    "unisend_sendgrid_async128_lat50/aiohttp_async128_lat50",
    "unisend_sendgrid_async128_lat50/httpx_aiohttp_async128_lat50",
    "unisend_sendgrid_async128_lat50/httpx_async128_lat50",
    "unisend_sendgrid_async128_lat50_httpcore/httpx_async128_lat50",
    "unisend_sendgrid_async32_lat50/httpx_async32_lat50",
]


def load(path: str) -> dict[str, dict[int, float]]:
    """case -> repeat -> msgs/s, from the per-run lines of a peers.py output file."""
    runs: dict[str, dict[int, float]] = defaultdict(dict)
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith("{"):
                continue
            row = json.loads(line)
            if "case" in row and "repeat" in row and row.get("msgs_per_s"):
                runs[row["case"]][int(row["repeat"])] = float(row["msgs_per_s"])
    return runs


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    runs = load(argv[0])
    pairs = argv[1:] or DEFAULT_PAIRS
    print("| A | B | A/B per repeat | median |")
    print("|---|---|---|---:|")
    for pair in pairs:
        a, _, b = pair.partition("/")
        repeats = sorted(set(runs.get(a, {})) & set(runs.get(b, {})))
        if not repeats:
            continue
        ratios = [runs[a][r] / runs[b][r] for r in repeats]
        shown = ", ".join(f"{x:.2f}" for x in ratios)
        print(f"| {a} | {b} | {shown} | **{statistics.median(ratios):.2f}** |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
