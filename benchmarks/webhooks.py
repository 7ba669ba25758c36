"""Benchmark: one 1,000-event SendGrid Event Webhook batch, signed, verified and parsed.

Cases, each on the same signed body (SendGrid's shape: events joined by CRLF, CRLF at the
end, ECDSA P-256 over timestamp + body with a key generated here):

* ``unisend parse_events``: :func:`unisend.webhooks.parse_events` (verify + parse).
* ``unisend parse only``: the same with ``insecure=True`` (what the signature costs).
* ``unisend Django view``: ``unisend.contrib.django.webhook_view("sendgrid", ...)`` on a
  ``RequestFactory`` request, a ``delivery_event`` receiver counting the events.
* ``anymail Django view``: django-anymail's ``SendGridTrackingWebhookView`` with
  ``SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY`` (its signature check), a ``tracking``
  receiver counting the events. The peer of the Django view case.

Runs offline, in one process, cases interleaved per repeat (order alternating); prints the
median CPU time (``time.process_time``: steadier than wall time on a shared machine) and
wall time per batch of each case, and the median of the per-repeat anymail/unisend ratios.
django-anymail is a benchmark peer only (``pip install django-anymail``), not a dependency.

    .venv/bin/python benchmarks/webhooks.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

EVENTS = 1000
KINDS: list[dict[str, Any]] = [
    {"event": "processed", "pool": {"name": "transactional", "id": 210}},
    {
        "event": "delivered",
        "response": "250 2.0.0 OK 1700000000 q1si123",
        "ip": "149.72.1.1",
        "tls": 1,
    },
    {
        "event": "open",
        "useragent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "ip": "66.249.1.1",
        "sg_machine_open": False,
    },
    {
        "event": "click",
        "url": "https://shop.example/orders/1234?utm_source=mail",
        "url_offset": {"index": 0, "type": "html"},
        "useragent": "Mozilla/5.0",
        "ip": "66.249.1.1",
    },
    {
        "event": "bounce",
        "reason": "550 5.1.1 The email account does not exist.",
        "status": "5.1.1",
        "type": "bounce",
    },
    {"event": "dropped", "reason": "Bounced Address", "status": "5.0.0"},
    {"event": "deferred", "response": "421 4.7.0 Try again later", "attempt": "3"},
    {"event": "spamreport"},
    {"event": "unsubscribe"},
]


def batch() -> bytes:
    """1,000 events as SendGrid sends them."""
    events = []
    for i in range(EVENTS):
        message_id = f"{i:06d}sjLz-kTRi8rFYc5HR"
        events.append(
            {
                "email": f"user{i}@example.com",
                "timestamp": 1700000000 + i,
                "smtp-id": f"<{message_id}@ismtpd0039p1iad1.sendgrid.net>",
                "sg_event_id": f"ZGVsaXZlcmVkLTAtMjQ{i:06d}",
                "sg_message_id": f"{message_id}.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C",
                "category": ["welcome", "onboarding"],
                "order_id": str(1000 + i),
                "user": str(i),
                **KINDS[i % len(KINDS)],
            }
        )
    return ("[" + ",\r\n".join(json.dumps(e) for e in events) + "]\r\n").encode()


def setup_django(public_key: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="benchmark",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        INSTALLED_APPS=[],
        ANYMAIL={"SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": public_key},
    )
    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    body = batch()
    timestamp = "1700000000"
    signature = base64.b64encode(
        private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    setup_django(public)

    from django.test import RequestFactory

    from unisend.contrib.django import delivery_event, webhook_view
    from unisend.webhooks import parse_events

    factory = RequestFactory()
    counted = [0]

    def count(sender: Any, event: Any, **kwargs: Any) -> None:
        counted[0] += 1

    def request() -> Any:
        return factory.post(
            "/hooks/sendgrid", data=body, content_type="application/json", headers=headers
        )

    unisend_view = webhook_view("sendgrid", verification_key=public)
    delivery_event.connect(count, weak=False)

    def unisend_parse() -> int:
        return len(parse_events("sendgrid", body, headers, verification_key=public))

    def unisend_parse_only() -> int:
        return len(parse_events("sendgrid", body, headers, insecure=True))

    def unisend_django() -> int:
        counted[0] = 0
        assert unisend_view(request()).status_code == 200
        return counted[0]

    cases: dict[str, Callable[[], int]] = {
        "unisend parse_events": unisend_parse,
        "unisend parse only": unisend_parse_only,
        "unisend Django view": unisend_django,
    }
    try:
        import anymail
        from anymail.signals import tracking
        from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
    except ImportError:
        print("django-anymail is not installed: its case is skipped (pip install django-anymail)")
    else:
        anymail_view = SendGridTrackingWebhookView.as_view()
        tracking.connect(count, weak=False)
        warnings.simplefilter("ignore")  # its per-request "dropped official support" warning

        def anymail_django() -> int:
            counted[0] = 0
            assert anymail_view(request()).status_code == 200
            return counted[0]

        cases[f"anymail {anymail.__version__} Django view"] = anymail_django

    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for name, run in cases.items():  # warm up and check every case sees every event
        for _ in range(3):
            assert run() == EVENTS, name
    order = list(cases.items())
    for repeat in range(args.repeats):
        # alternate the order, so no case always runs right after the same neighbour
        for name, run in order if repeat % 2 == 0 else reversed(order):
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start)

    print(f"{EVENTS}-event SendGrid batch ({len(body):,} bytes), {args.repeats} repeats, medians")
    print("(CPU time of this process, and wall time; the machine may be shared):\n")
    print("| case | CPU ms per batch | events/s (CPU) | wall ms per batch |")
    print("|---|---:|---:|---:|")
    for name in cases:
        seconds = statistics.median(cpu[name])
        print(
            f"| {name} | {seconds * 1000:.1f} | {EVENTS / seconds:,.0f} | "
            f"{statistics.median(wall[name]) * 1000:.1f} |"
        )
    peer = next((name for name in cases if name.startswith("anymail")), None)
    if peer:
        for ours in ("unisend Django view", "unisend parse_events"):
            paired = [a / u for a, u in zip(cpu[peer], cpu[ours], strict=True)]
            print(
                f"\n{peer} / {ours}: {statistics.median(paired):.2f} "
                f"(median of the per-repeat CPU-time ratios)"
            )


if __name__ == "__main__":
    main()
