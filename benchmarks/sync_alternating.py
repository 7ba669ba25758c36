"""Sync HTTP on a loaded machine: one process alternates short rounds of raw
``httpx.Client`` posts and ``Mailer.send`` (SendGrid- or Postmark-shaped, against the
shared HTTP stub), so both see the same load; prints the median of per-round ratios.

  python ../shared/bench/http_stub.py --port 18000 &
  PYTHONPATH=$PWD python benchmarks/sync_alternating.py 18000 60 100 sendgrid
  PYTHONPATH=/tmp/engine-old python benchmarks/sync_alternating.py 18000 60 100 sendgrid

(arguments: stub port, rounds, messages per round, provider; /tmp/engine-old holds another
revision: ``git archive <rev> unisend | tar -x -C /tmp/engine-old``).
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import httpx

from unisend import Mailer, Message, RetryPolicy
from unisend.transports import PostmarkTransport, SendGridTransport

TEXT, HTML = "Hi there " * 10, "<p>Hi there</p>"


def sendgrid_body(i: int) -> dict[str, Any]:
    return {
        "personalizations": [{"to": [{"email": f"bob{i}@example.com"}]}],
        "from": {"email": "ann@example.com"},
        "subject": f"Hello {i}",
        "content": [{"type": "text/plain", "value": TEXT}, {"type": "text/html", "value": HTML}],
    }


def postmark_body(i: int) -> dict[str, Any]:
    return {
        "From": "ann@example.com",
        "To": f"bob{i}@example.com",
        "Subject": f"Hello {i}",
        "TextBody": TEXT,
        "HtmlBody": HTML,
    }


def main(port: int, rounds: int, per: int, provider: str) -> None:
    url = f"http://127.0.0.1:{port}"
    if provider == "sendgrid":
        raw = httpx.Client(base_url=url, headers={"Authorization": "Bearer SG.k"})
        path, body, ok = "/v3/mail/send", sendgrid_body, 202
        transport: Any = SendGridTransport(api_key="SG.k", base_url=url)
    else:
        headers = {"X-Postmark-Server-Token": "k", "Accept": "application/json"}
        raw = httpx.Client(base_url=url, headers=headers)
        path, body, ok = "/email", postmark_body, 200
        transport = PostmarkTransport(server_token="k", base_url=url)
    mailer = Mailer(transport, retry=RetryPolicy(attempts=1, backoff=0))

    def raw_round() -> float:
        started = time.perf_counter()
        for i in range(per):
            assert raw.post(path, json=body(i)).status_code == ok
        return time.perf_counter() - started

    def unisend_round() -> float:
        started = time.perf_counter()
        for i in range(per):
            mailer.send(
                Message(
                    sender="ann@example.com",
                    to=f"bob{i}@example.com",
                    subject=f"Hello {i}",
                    text=TEXT,
                    html=HTML,
                )
            )
        return time.perf_counter() - started

    raw_round(), unisend_round()  # warm-up
    ratios, raw_rates, unisend_rates = [], [], []
    for _ in range(rounds):
        raw_time, unisend_time = raw_round(), unisend_round()
        raw_rates.append(per / raw_time)
        unisend_rates.append(per / unisend_time)
        ratios.append(raw_time / unisend_time)
    low, _, high = statistics.quantiles(ratios, n=4)
    print(
        f"{provider}: median unisend/raw httpx {statistics.median(ratios):.2f} "
        f"(quartiles {low:.2f}-{high:.2f}; msgs/s raw {statistics.median(raw_rates):.0f}, "
        f"unisend {statistics.median(unisend_rates):.0f})"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
