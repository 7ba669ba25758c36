"""The hook API of the routers: callables told about every attempt and every failover.

``Failover(..., on_attempt=f, on_failover=g)`` (and ``RoundRobin``) call

- ``on_attempt(attempt)`` with each :class:`~unisend.Attempt` as soon as it is recorded
  (every try, retries included, successful or not);
- ``on_failover(from_route, to_route, error)`` each time a route is given up on after a
  failure and starts cooling down: ``from_route`` is its ``.name``, ``to_route`` the
  name of the route tried next or ``None`` when no route is left (the send then raises
  :class:`~unisend.AllRoutesFailed`), ``error`` the :class:`~unisend.SendError` that
  ended it.

Hooks run inline in the sending thread or task, so keep them quick; in async code they
are still plain (non-async) callables. An exception in a hook is logged on the
``unisend`` logger and never changes the outcome of the send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

    from ._errors import SendError
    from ._result import Attempt

_logger: logging.Logger | None = None


def logger() -> logging.Logger:
    """The ``unisend`` logger; :mod:`logging` is imported on first use, so that
    ``from unisend import Mailer`` does not pay for it."""
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("unisend")
    return _logger


#: ``on_attempt(attempt)``
AttemptHook = Callable[["Attempt"], None]
#: ``on_failover(from_route, to_route_or_None, error)``
FailoverHook = Callable[[str, "str | None", "SendError"], None]


def call_hook(hook: Callable[..., object], *args: object) -> None:
    """Call a user hook; an exception in it is logged, never raised into the send
    (a hook failing after an accepted send must not turn it into an error)."""
    try:
        hook(*args)
    except Exception:
        logger().exception("unisend hook %r raised; the send goes on", hook)


__all__ = ["AttemptHook", "FailoverHook", "call_hook", "logger"]
