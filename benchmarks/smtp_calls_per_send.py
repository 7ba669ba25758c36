#!/usr/bin/env python3
"""Python function calls per ``Mailer.send`` over one reused SMTP connection: a measure
of the client's per-message work that, unlike msgs/s, does not depend on how loaded the
machine is. A measurement script, not a test.

    .venv/bin/python benchmarks/smtp_calls_per_send.py [CHECKOUT ...]

Each CHECKOUT (default: this one) is a unisend source tree, e.g. a ``git archive`` of
another commit; each is measured in a fresh child process (``PYTHONPATH=CHECKOUT``)
against one loopback aiosmtpd sink: 20 warm-up sends, then ``sys.setprofile`` counts
Python and C calls over 200 sends.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, sys
from unisend import Mailer, Message, RetryPolicy
from unisend.transports import SMTPTransport

transport = SMTPTransport("127.0.0.1", int(sys.argv[1]), security="none")
mailer = Mailer(transport, retry=RetryPolicy(attempts=1, backoff=0))
messages = [
    Message(sender="a@example.com", to="b@example.com", subject=f"m {i}", text="Hello")
    for i in range(220)
]
for message in messages[:20]:
    mailer.send(message)
calls = 0

def count(frame, event, arg):
    global calls
    if event in ("call", "c_call"):
        calls += 1

sys.setprofile(count)
for message in messages[20:]:
    mailer.send(message)
sys.setprofile(None)
mailer.close()
print(json.dumps(calls / 200))
"""


def main() -> None:
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    checkouts = sys.argv[1:] or [str(Path(__file__).resolve().parent.parent)]
    try:
        print("| checkout | calls per send |\n|---|---:|")
        for checkout in checkouts:
            env = {**os.environ, "PYTHONPATH": checkout}
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(port)],
                capture_output=True,
                text=True,
                env=env,
                cwd="/",
                check=True,
            )
            print(f"| {checkout} | {json.loads(done.stdout):.1f} |")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
