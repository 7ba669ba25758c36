"""SMTP on a noisy machine: one process alternates short rounds of raw ``smtplib`` (one
connection, a stdlib ``EmailMessage`` built per message, multipart/alternative) and
``Mailer(SMTPTransport).send`` (one connection inside ``with``), against the shared SMTP
sink, so both see the same load; prints the median of per-round ratios.

  python ../shared/bench/smtp_sink.py --port 18025 &
  PYTHONPATH=$PWD python benchmarks/smtp_alternating.py 18025 40 200
  PYTHONPATH=/tmp/engine-old python benchmarks/smtp_alternating.py 18025 40 200

(arguments: sink port, rounds, messages per round; /tmp/engine-old holds another revision:
``git archive <rev> unisend | tar -x -C /tmp/engine-old``).
"""

from __future__ import annotations

import smtplib
import statistics
import sys
import time
from email.message import EmailMessage

from unisend import Mailer, Message, RetryPolicy
from unisend.transports import SMTPTransport

SENDER, RECIPIENT = "sender@example.com", "rcpt@example.com"
TEXT = "Hello,\n\nThis is benchmark message {i}. It has a short plain-text part.\n"
HTML = "<html><body><p>Hello,</p><p>This is benchmark message <b>{i}</b>.</p></body></html>"


def raw_round(port: int, count: int) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as connection:
        for i in range(count):
            message = EmailMessage()
            message["From"], message["To"] = SENDER, RECIPIENT
            message["Subject"] = f"Benchmark {i}"
            message.set_content(TEXT.format(i=i))
            message.add_alternative(HTML.format(i=i), subtype="html")
            connection.send_message(message)
    return count / (time.perf_counter() - started)


def unisend_round(port: int, count: int) -> float:
    started = time.perf_counter()
    transport = SMTPTransport("127.0.0.1", port, security="none")
    with Mailer(transport, retry=RetryPolicy(attempts=1, backoff=0)) as mailer:
        for i in range(count):
            mailer.send(
                Message(
                    sender=SENDER,
                    to=RECIPIENT,
                    subject=f"Benchmark {i}",
                    text=TEXT.format(i=i),
                    html=HTML.format(i=i),
                )
            )
    return count / (time.perf_counter() - started)


def main(port: int, rounds: int, count: int) -> None:
    raw_round(port, 20)
    unisend_round(port, 20)
    ratios, raw, ours = [], [], []
    for _ in range(rounds):
        raw.append(raw_round(port, count))
        ours.append(unisend_round(port, count))
        ratios.append(ours[-1] / raw[-1])
    print(
        f"{rounds} rounds of {count}: raw smtplib {statistics.median(raw):.0f} msgs/s, "
        f"unisend {statistics.median(ours):.0f} msgs/s, "
        f"median per-round ratio {statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
