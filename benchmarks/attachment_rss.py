#!/usr/bin/env python3
"""Peak memory of sending ONE message with a large attachment (issue 5: "20 MB
attachment over SMTP and HTTP: peak RSS <= 4x the attachment"). A measurement script,
not a test.

    .venv/bin/python benchmarks/attachment_rss.py [--mb 20] [--repeats 3]
        [--cases smtp,smtp_async,sendgrid,...] [--json OUT.jsonl]
    .venv/bin/python benchmarks/attachment_rss.py --hot

``--hot`` instead times what the large-message paths add to every SMALL message: the
render of a text+html message (SMTP) and the long-string scan of a SendGrid payload
(HTTP), best of 7 runs of 20,000.

The parent starts the shared SMTP sink (../shared/bench/smtp_sink.py) and HTTP stub
(../shared/bench/http_stub.py) as subprocesses on free loopback ports, then runs every
case in a FRESH child process (``--child CASE``), ``--repeats`` times, and prints a
Markdown table of the medians.

In the child:

1. import unisend, build the transport and its ``Mailer``/``AsyncMailer``, send one small
   warm-up message (imports, connection, TLS and client set-up are then paid for);
2. ``baseline``: RSS now (VmRSS), after ``gc.collect()``;
3. build ``Message(..., attachments=[Attachment("data.bin", os.urandom(N))])``;
   ``built``: RSS now (the N attachment bytes are in memory);
4. send it (``Mailer.send`` / ``AsyncMailer.send``), timed;
5. ``peak``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the process's peak RSS.

The figure reported is ``(peak - baseline) / N``: the peak memory the message costs,
as a multiple of the attachment, the attachment itself included (so 1.0x is the floor
for a caller that holds the attachment bytes). The interpreter and the warmed-up
library are the baseline and do not count. Before the send, the child resets the
kernel's peak counter (``/proc/self/clear_refs``, value 5) when it is allowed to, so
that a peak from the warm-up cannot be reported; ``hwm_reset`` in the output says
whether it was.

HTTP cases also run two more fresh children each (``--phase json`` / ``--phase post``)
that isolate the cost of WRITING a request that is already built (message and provider
payload, with its base64 string, in memory): ``client.request(json=payload)`` (httpx's
one-piece body) and the transport's ``_post``/``_apost``. Their figure is
``(peak - RSS before the write) / N``. Separate processes, because glibc's malloc keeps
freed blocks after its mmap threshold has grown, which would hide a second peak.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT.parent / "shared" / "bench"
MB = 1_000_000

HTTP_CASES = ("sendgrid", "postmark", "mailjet", "brevo", "mailtrap")
CASES = (
    "smtp",
    "smtp_async",
    *HTTP_CASES,
    *(f"{name}_async" for name in HTTP_CASES),
)
#: Extra cases, run when named in --cases: SendGrid on a given sync httpx transport
#: (``_httpcore``: httpx's own; ``_urllib3``: unisend's urllib3 transport).
EXTRA_CASES = ("sendgrid_httpcore", "sendgrid_urllib3")


# -- the child ----------------------------------------------------------------------


def _rss() -> int:
    """Current resident set size in bytes."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    """Peak resident set size in bytes (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _transport(case: str, port: int) -> Any:
    from unisend.transports import (
        BrevoTransport,
        MailjetTransport,
        MailtrapTransport,
        PostmarkTransport,
        SendGridTransport,
        SMTPTransport,
    )

    base_url = f"http://127.0.0.1:{port}"
    if case in EXTRA_CASES:
        import httpx

        if case.endswith("_urllib3"):
            from unisend.transports._urllib3 import Urllib3Transport

            sync: httpx.BaseTransport = Urllib3Transport()
        else:
            sync = httpx.HTTPTransport()
        client = httpx.Client(transport=sync, headers={"User-Agent": "unisend"})
        return SendGridTransport(api_key="k", base_url=base_url, timeout=60.0, client=client)
    name = case.removesuffix("_async")
    if name == "smtp":
        return SMTPTransport("127.0.0.1", port, security="none", timeout=60)
    timeout = 60.0
    if name == "sendgrid":
        return SendGridTransport(api_key="k", base_url=base_url, timeout=timeout)
    if name == "postmark":
        return PostmarkTransport(server_token="k", base_url=base_url, timeout=timeout)
    if name == "mailjet":
        return MailjetTransport(api_key="k", secret_key="s", base_url=base_url, timeout=timeout)
    if name == "brevo":
        return BrevoTransport(api_key="k", base_url=base_url, timeout=timeout)
    if name == "mailtrap":
        return MailtrapTransport(token="k", base_url=base_url, timeout=timeout)
    raise SystemExit(f"unknown case {case!r}")


def _message(attachment: bytes | None) -> Any:
    from unisend import Attachment, Message

    return Message(
        sender="Sender <sender@example.com>",
        to="rcpt@example.com",
        subject="large attachment",
        text="Hello,\n\nthe file is attached.\n",
        html="<p>Hello,</p><p>the file is attached.</p>",
        attachments=[Attachment("data.bin", attachment)] if attachment is not None else [],
    )


def child(case: str, port: int, size: int) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    from unisend import AsyncMailer, Mailer, RetryPolicy

    retry = RetryPolicy(attempts=1, backoff=0)
    transport = _transport(case, port)
    record: dict[str, Any] = {"case": case, "attachment": size}
    if case.endswith("_async"):

        async def run() -> None:
            async with AsyncMailer(transport, retry=retry) as mailer:
                await mailer.send(_message(b"warm-up"))
                measure_before(record)
                message = _message(os.urandom(size))
                measure_built(record)
                started = time.perf_counter()
                await mailer.send(message)
                record["seconds"] = time.perf_counter() - started
                record["peak"] = _peak()

        asyncio.run(run())
    else:
        with Mailer(transport, retry=retry) as mailer:
            mailer.send(_message(b"warm-up"))
            measure_before(record)
            message = _message(os.urandom(size))
            measure_built(record)
            started = time.perf_counter()
            mailer.send(message)
            record["seconds"] = time.perf_counter() - started
            record["peak"] = _peak()
    record["multiple"] = (record["peak"] - record["baseline"]) / size
    record["built_multiple"] = (record["built"] - record["baseline"]) / size
    return record


def transfer(case: str, port: int, size: int, phase: str) -> dict[str, Any]:
    """HTTP only, in this (fresh) process: the peak of writing an already built request,
    via httpx ``json=`` (``phase="json"``) or the transport's ``_post`` (``"post"``)."""
    from unisend import AsyncMailer, Mailer

    transport = _transport(case, port)
    record: dict[str, Any] = {"case": case, "attachment": size, "phase": phase}
    warm_up = _message(b"warm-up")

    def prepare() -> tuple[Any, str, dict[str, str]]:
        request = transport._build_request(_message(os.urandom(size)))
        gc.collect()
        record["held"] = _rss()
        record["hwm_reset"] = _reset_peak()
        return request, transport.base_url + request.path, transport._headers(request)

    if case.endswith("_async"):

        async def run() -> None:
            async with AsyncMailer(transport) as mailer:
                await mailer.send(warm_up)
                request, url, headers = prepare()
                if phase == "json":
                    client = transport._aclient()
                    response = await client.request("POST", url, json=request.json, headers=headers)
                else:
                    response = await transport._apost(request)
                record["peak"] = _peak()
                assert response.is_success, response.status_code

        asyncio.run(run())
    else:
        with Mailer(transport) as mailer:
            mailer.send(warm_up)
            request, url, headers = prepare()
            if phase == "json":
                client = transport._sync_client()
                response = client.request("POST", url, json=request.json, headers=headers)
            else:
                response = transport._post(request)
            record["peak"] = _peak()
            assert response.is_success, response.status_code
    record["multiple"] = (record["peak"] - record["held"]) / size
    return record


def measure_before(record: dict[str, Any]) -> None:
    gc.collect()
    record["baseline"] = _rss()
    record["hwm_reset"] = _reset_peak()


def measure_built(record: dict[str, Any]) -> None:
    record["built"] = _rss()


# -- the parent ---------------------------------------------------------------------


def _server(script: str, *args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / script), "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise SystemExit(f"{script} did not start")
    return proc, json.loads(line)


def hot() -> None:
    """Print the per-message cost of the paths every small message takes."""
    import timeit

    from unisend._mime import render
    from unisend.transports import SendGridTransport
    from unisend.transports._json_body import has_long_string as _has_long_string

    message = _message(None)
    document = SendGridTransport(api_key="k")._build_request(message).json
    for label, run in (
        ("render(text+html message)", lambda: render(message)),
        ("_has_long_string(SendGrid payload)", lambda: _has_long_string(document)),
    ):
        best = min(timeit.repeat(run, number=20_000, repeat=7)) / 20_000
        print(f"{label}: {best * 1e6:.2f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=20.0, help="attachment size in MB (10**6)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", default=None, help="append the raw records to this file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--phase", default="send", help=argparse.SUPPRESS)
    parser.add_argument("--hot", action="store_true", help="time the small-message paths")
    args = parser.parse_args()
    if args.hot:
        hot()
        return
    size = int(args.mb * MB)
    if args.child:
        if args.phase == "send":
            print(json.dumps(child(args.child, args.port, size)))
        else:
            print(json.dumps(transfer(args.child, args.port, size, args.phase)))
        return

    cases = [c for c in args.cases.split(",") if c]
    smtp, smtp_info = _server("smtp_sink.py")
    http, http_info = _server("http_stub.py")
    records: list[dict[str, Any]] = []
    try:
        for case in cases:
            port = smtp_info["port"] if case.startswith("smtp") else http_info["port"]
            phases = ["send"] if case.startswith("smtp") else ["send", "json", "post"]
            for phase in phases:
                for _ in range(args.repeats):
                    command = [sys.executable, __file__, "--child", case, "--phase", phase]
                    command += ["--port", str(port), "--mb", str(args.mb)]
                    out = subprocess.run(
                        command, capture_output=True, text=True, check=False, cwd=ROOT
                    )
                    if out.returncode != 0:
                        print(f"{case} {phase}: child failed\n{out.stderr}", file=sys.stderr)
                        break
                    record = json.loads(out.stdout.strip().splitlines()[-1])
                    record.setdefault("phase", "send")
                    records.append(record)
    finally:
        for proc in (smtp, http):
            proc.terminate()
            proc.wait(10)
    if args.json:
        with open(args.json, "a") as sink:
            for record in records:
                sink.write(json.dumps(record) + "\n")
    print(f"attachment {size / MB:g} MB, {args.repeats} fresh process(es) per case, medians\n")
    print(
        "| case | baseline RSS MB | built - baseline | peak - baseline | s/send "
        "| writing a built request: json= | writing it: _post |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        rows = [r for r in records if r["case"] == case and r["phase"] == "send"]
        if not rows:
            print(f"| {case} | failed | | | | | |")
            continue
        baseline = statistics.median(r["baseline"] for r in rows) / MB
        built = statistics.median(r["built_multiple"] for r in rows)
        multiple = statistics.median(r["multiple"] for r in rows)
        seconds = statistics.median(r["seconds"] for r in rows)
        writes = []
        for phase in ("json", "post"):
            figures = [r["multiple"] for r in records if r["case"] == case and r["phase"] == phase]
            writes.append(f"{statistics.median(figures):+.2f}x" if figures else "n/a")
        print(
            f"| {case} | {baseline:.0f} | {built:.2f}x | {multiple:.2f}x | {seconds:.3f} "
            f"| {writes[0]} | {writes[1]} |"
        )


if __name__ == "__main__":
    main()
