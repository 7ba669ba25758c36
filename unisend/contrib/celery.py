"""Celery integration: send mail from a worker, with retries that follow the error classes.

Enqueue in one line (the message travels as JSON; attachments as base64)::

    from unisend.contrib.celery import send_later
    send_later(Message(to="bob@example.com", subject="Hi", text="..."), countdown=10)

The worker sends through the route of *its own* configuration, never one carried by the
task, so no credential is ever in a task's arguments or result. Worker settings (Celery
config keys, e.g. ``app.conf.unisend_retry_backoff = 2``):

=============================  =======================================================
``unisend_url``                the URL; default: the ``UNISEND_URL`` environment variable
``unisend_default_sender``     sender for messages without one
``unisend_retry``              RetryPolicy fields for in-process retries (dict)
``unisend_max_retries``        Celery retries after a transient failure (default 5)
``unisend_retry_backoff``      first Celery retry delay in seconds, doubled each time (5)
``unisend_retry_backoff_max``  cap on that delay and on ``Retry-After`` (600)
=============================  =======================================================

Outcomes: accepted -> the task returns ``{"message_id", "transport", "rejected",
"attempts", "retries"}``. :class:`~unisend.TransientError` (and an
:class:`~unisend.AllRoutesFailed` with a transient error in it) -> Celery retry after the
backoff, or after ``RateLimited.retry_after`` when the provider said; when retries run
out, and at once for :class:`~unisend.MessageRejected` or
:class:`~unisend.ProviderError`, the task fails with :class:`SendFailed`, recorded in the
result backend.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from celery import Task, shared_task
from celery.signals import worker_process_shutdown

from .. import (
    AllRoutesFailed,
    RateLimited,
    SendError,
    TransientError,
)
from .._message import Message
from .._payload import PAYLOAD_VERSION, message_from_payload, message_to_payload
from . import build_mailer, resolve_url, retry_from_config

if TYPE_CHECKING:
    from celery.result import AsyncResult

    from .._mailer import Mailer

logger = logging.getLogger("unisend.contrib.celery")

#: The registered name of the task.
TASK_NAME = "unisend.send_message"


class SendFailed(Exception):
    """The task gave up on a message: ``"<ErrorClass>: <detail>"`` (never a secret)."""


_mailers: dict[int, Mailer] = {}
_mailers_lock = threading.Lock()


def worker_mailer(app: Any) -> Mailer:
    """The worker's mailer for the Celery ``app``, built once from its config."""
    with _mailers_lock:
        mailer = _mailers.get(id(app))
        if mailer is None:
            conf = app.conf
            mailer = build_mailer(
                resolve_url(conf.get("unisend_url"), "the Celery setting unisend_url"),
                default_sender=conf.get("unisend_default_sender"),
                retry=retry_from_config(conf.get("unisend_retry"), "unisend_retry"),
            )
            _mailers[id(app)] = mailer
        return mailer


@worker_process_shutdown.connect  # type: ignore[untyped-decorator, misc, unused-ignore]
def _close_mailers(**_: Any) -> None:
    with _mailers_lock:
        for mailer in _mailers.values():
            mailer.close()
        _mailers.clear()


def _is_transient(error: SendError) -> bool:
    if isinstance(error, AllRoutesFailed):
        return any(isinstance(e, TransientError) for e in error.errors)
    return isinstance(error, TransientError)


def _retry_after(error: SendError) -> float | None:
    errors = error.errors if isinstance(error, AllRoutesFailed) else [error]
    hints = [e.retry_after for e in errors if isinstance(e, RateLimited) and e.retry_after]
    return max(hints) if hints else None


def retry_countdown(error: SendError, retries: int, conf: Mapping[str, Any]) -> float:
    """Seconds before Celery retry number ``retries + 1``.

    The provider's ``Retry-After`` when it gave one, else ``unisend_retry_backoff *
    2**retries`` with jitter (between half and all of it); both capped by
    ``unisend_retry_backoff_max``.
    """
    cap = float(conf.get("unisend_retry_backoff_max") or 600.0)
    hint = _retry_after(error)
    if hint is not None:
        return min(hint, cap)
    base = conf.get("unisend_retry_backoff")
    delay = min(cap, (5.0 if base is None else float(base)) * 2**retries)
    return random.uniform(delay / 2, delay)


def _failed(error: SendError) -> SendFailed:
    return SendFailed(f"{type(error).__name__}: {error}")


# acks_late: a worker that dies mid-send leaves the task on the broker (at-least-once).
@shared_task(  # type: ignore[untyped-decorator, misc, unused-ignore]
    bind=True, name=TASK_NAME, max_retries=None, throws=(SendFailed,), acks_late=True
)
def send_message(self: Task, payload: dict[str, Any]) -> dict[str, Any]:
    """Send the message in ``payload`` (see :func:`message_to_payload`)."""
    message = message_from_payload(payload)
    conf = self.app.conf
    try:
        result = worker_mailer(self.app).send(message)
    except SendError as error:
        retries = int(self.request.retries)
        limit = conf.get("unisend_max_retries")
        limit = 5 if limit is None else int(limit)
        if _is_transient(error) and retries < limit:
            countdown = retry_countdown(error, retries, conf)
            logger.info(
                "task %s: %s; retry %d in %.1fs", self.request.id, error, retries + 1, countdown
            )
            raise self.retry(exc=_failed(error), countdown=countdown) from None
        logger.warning("task %s: not sent: %s", self.request.id, error)
        raise _failed(error) from None
    return {
        "message_id": result.message_id,
        "transport": result.transport,
        "rejected": dict(result.rejected),
        "attempts": len(result.attempts),
        "retries": int(self.request.retries),
    }


def send_later(message: Message, **options: Any) -> AsyncResult:
    """Enqueue ``message`` for a worker; ``options`` go to ``apply_async``
    (``countdown=``, ``eta=``, ``queue=``...). Returns the Celery ``AsyncResult``."""
    return send_message.apply_async(args=(message_to_payload(message),), **options)


__all__ = [
    "PAYLOAD_VERSION",
    "TASK_NAME",
    "SendFailed",
    "message_from_payload",
    "message_to_payload",
    "retry_countdown",
    "send_later",
    "send_message",
]
