"""Keep mail flowing when a provider is down: try a primary route, then a backup.

Run it with any two unisend URLs::

    PRIMARY_URL="postmark://SERVER_TOKEN@default" \\
    BACKUP_URL="smtp://user:pass@smtp.example.com:587" \\
        python examples/failover.py bob@example.com

Each route is tried up to twice on a transient error (with a short backoff) before the
next one is taken; a route that failed over is skipped for 60 s. The script prints every
attempt and the route that accepted the message. The same setup as one URL:
``UNISEND_URL="failover(postmark://... smtp://...)"``.
"""

from __future__ import annotations

import os
import sys

from unisend import Failover, Mailer, Message, RetryPolicy, SendError, from_url


def main(argv: list[str]) -> int:
    """Send one message to ``argv[1]`` over PRIMARY_URL, failing over to BACKUP_URL."""
    if len(argv) != 2:
        print(f"usage: PRIMARY_URL=... BACKUP_URL=... python {argv[0]} RECIPIENT", file=sys.stderr)
        return 2
    primary = from_url(os.environ["PRIMARY_URL"])
    backup = from_url(os.environ["BACKUP_URL"])
    primary.name, backup.name = "primary", "backup"
    router = Failover([primary, backup], cooldown=60.0)
    retry = RetryPolicy(attempts=2, backoff=0.05, max_backoff=1.0)
    message = Message(
        sender="Example <noreply@example.com>",
        to=argv[1],
        subject="Sent with failover",
        text="If the primary route was down, the backup carried this message.",
    )
    with Mailer(router, retry=retry) as mailer:
        try:
            result = mailer.send(message)
        except SendError as exc:
            print(f"not sent: {exc}", file=sys.stderr)
            return 1
    for attempt in result.attempts:
        outcome = "ok" if attempt.error is None else type(attempt.error).__name__
        print(f"attempt {attempt.transport}: {outcome}")
    print(f"accepted by {result.transport}: {result.message_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
