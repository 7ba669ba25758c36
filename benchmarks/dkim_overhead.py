#!/usr/bin/env python3
"""What DKIM signing adds to sending ONE large message over SMTP. A measurement script,
not a test.

    .venv/bin/python benchmarks/dkim_overhead.py [--mb 20] [--repeats 5]

For a message with an ``--mb`` MB attachment, rendered by the large-message renderer
(chunks), it times, median of ``--repeats``:

- ``render``: ``unisend._mime.render`` alone;
- ``sign rsa`` / ``sign ed25519``: ``DKIM.sign_chunks`` on those chunks (RSA 2048 and
  Ed25519), and the extra memory it allocates (``tracemalloc`` peak);
- ``send`` / ``send+dkim``: ``SMTPTransport.send`` of the whole message to a loopback
  aiosmtpd sink that discards what it reads (one warmed-up connection), without and
  with RSA signing.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from unisend import DKIM, Attachment, Message
from unisend._mime import render
from unisend.transports.smtp import SMTPTransport


class _Discard:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def _pem(key: object) -> bytes:
    pem: bytes = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


def _median_ms(func: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    message = Message(
        sender="ann@example.com",
        to="bob@example.com",
        subject="large",
        text="See the attachment.",
        attachments=[Attachment(filename="data.bin", content=os.urandom(size))],
    )
    chunks = render(message).chunks
    signers = {
        "rsa": DKIM("example.com", "s", _pem(rsa.generate_private_key(65537, 2048))),
        "ed25519": DKIM(
            "example.com",
            "s",
            _pem(ed25519.Ed25519PrivateKey.generate()),
            algorithm="ed25519-sha256",
        ),
    }
    rows = [("render", _median_ms(lambda: render(message), args.repeats), None)]
    for name, signer in signers.items():
        ms = _median_ms(lambda signer=signer: signer.sign_chunks(chunks), args.repeats)
        tracemalloc.start()
        signer.sign_chunks(chunks)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append((f"sign {name}", ms, peak))

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(_Discard(), hostname="127.0.0.1", port=port, data_size_limit=0)
    controller.start()
    try:
        for label, dkim in (("send", None), ("send+dkim rsa", signers["rsa"])):
            transport = SMTPTransport("127.0.0.1", port, security="none", dkim=dkim, timeout=60)
            transport.send(message)  # warm-up: connection open
            rows.append(
                (label, _median_ms(lambda t=transport: t.send(message), args.repeats), None)
            )
            transport.close()
    finally:
        controller.stop()
    print(
        f"{args.mb} MB attachment ({sum(map(len, chunks)) / 1e6:.1f} MB rendered, "
        f"{len(chunks)} chunks), median of {args.repeats}; Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, {threading.active_count()} threads\n"
    )
    print("| step | ms (median) | extra memory (tracemalloc peak) |")
    print("|---|---:|---:|")
    for label, ms, peak in rows:
        memory = f"{peak / 1024:.0f} KiB" if peak is not None else "-"
        print(f"| {label} | {ms:.1f} | {memory} |")


if __name__ == "__main__":
    main()
