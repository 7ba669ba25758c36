"""A Celery worker that sends unisend mail, and a one-line way to enqueue.

Start a worker (Redis as the broker and result backend; the route comes from the
worker's environment, never from the task)::

    export CELERY_BROKER_URL=redis://127.0.0.1:6379/0
    export UNISEND_URL="smtp://user:pass@smtp.example.com:587"   # or sandbox://
    celery --workdir examples -A celery_worker worker --loglevel=info

Enqueue a message and wait for the outcome (from another shell, same environment), then
read it back when the route is the sandbox::

    python examples/celery_worker.py bob@example.com
    unisend sandbox list

The worker runs in ``examples/`` (``--workdir``), but a ``sandbox://`` route keeps its file in
the repository root's ``.unisend/sandbox.sqlite3``, where ``unisend sandbox list`` run from the
root looks, unless ``UNISEND_SANDBOX`` names another file.

Optional knobs (environment): ``UNISEND_RETRY_BACKOFF`` (first Celery retry delay in
seconds, default 5), ``UNISEND_MAX_RETRIES`` (default 5), ``UNISEND_ATTEMPTS`` (tries
inside one task run before handing the retry to Celery, default 1).
"""

from __future__ import annotations

import os
import sys

from celery import Celery

BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")

# `celery --workdir examples` would put ./.unisend/sandbox.sqlite3 under examples/: keep the
# sandbox in the repository root, where `unisend sandbox list` is run.
os.environ.setdefault(
    "UNISEND_SANDBOX",
    os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".unisend", "sandbox.sqlite3"
    ),
)

app = Celery(
    "unisend_example",
    broker=BROKER,
    backend=os.environ.get("CELERY_RESULT_BACKEND", BROKER),
    include=["unisend.contrib.celery"],
)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    unisend_default_sender=os.environ.get(
        "UNISEND_DEFAULT_SENDER", "Example <noreply@example.com>"
    ),
    unisend_retry={"attempts": int(os.environ.get("UNISEND_ATTEMPTS", "1"))},
    unisend_retry_backoff=float(os.environ.get("UNISEND_RETRY_BACKOFF", "5")),
    unisend_max_retries=int(os.environ.get("UNISEND_MAX_RETRIES", "5")),
)


def main(argv: list[str]) -> int:
    """Enqueue one message to ``argv[1]`` and print the worker's result."""
    from unisend import Message
    from unisend.contrib.celery import send_later

    if len(argv) != 2:
        print(f"usage: python {argv[0]} RECIPIENT", file=sys.stderr)
        return 2
    message = Message(to=argv[1], subject="Hello from a Celery worker", text="It works.")
    result = send_later(message)
    outcome = result.get(timeout=float(os.environ.get("WAIT_SECONDS", "30")))
    print(f"sent: message_id={outcome['message_id']} transport={outcome['transport']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
