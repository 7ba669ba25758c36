"""Delivery as an I/O-free plan: which route to try, when to wait, what to record.

This is tenacity's design (its ``iter()`` answers "attempt" or "sleep") and httpx's
(I/O-free logic under thin sync and async edges). A plan is a generator that never
touches the network and never sleeps: it yields :class:`Try`, :class:`TryBatch` and
:class:`Sleep` steps, and a *driver* performs each step and sends the outcome back.
Retry (the one rule of :class:`~unisend.RetryPolicy`), routing (asking each
:class:`Routing` which route is next and telling it what happened), the
:class:`~unisend.Attempt` trail, the ``on_attempt`` / ``on_failover`` hooks and the log
lines are all produced here, in one place, for ``send``, ``send_many`` and batch rounds.

The drivers are :class:`~unisend.Mailer` (sync) and :class:`~unisend.AsyncMailer`
(async), in :mod:`unisend._mailer`. Another driver (a durable spool, a worker) follows
the same interface::

    plan = deliver(transport, message, policy)  # or deliver_batch(transport, messages, policy)
    outcome = None
    try:
        while True:
            step = plan.send(outcome)
            if type(step) is Sleep:
                wait step.seconds (step.policy.sleep / step.policy.async_sleep); outcome = None
            elif type(step) is Try:
                outcome = step.route.send(step.message)      # or await .asend(...)
                # a SendError raised by it is the outcome: catch it and send it in
            else:  # TryBatch
                outcome = step.route.send_many(step.messages)  # or await .asend_many(...)
    except StopIteration as done:
        return done.value  # deliver: the SendResult; deliver_batch: one outcome per message

A plan raises the error the caller sees (the last error of a lone route, the
:class:`~unisend.MessageRejected` of any route, :class:`~unisend.AllRoutesFailed` of a
router) out of ``plan.send``. Anything but a ``SendError`` raised by a transport (a bug,
an ``InvalidMessage``) is the driver's to propagate; the plan is then abandoned. Plans
read only the policy's clock; one plan serves one delivery and is not reused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, TypeAlias, TypeVar, cast

from ._errors import AllRoutesFailed, MessageRejected, SendError
from ._hooks import AttemptHook, FailoverHook, call_hook, logger
from ._result import Attempt, SendResult

if TYPE_CHECKING:
    from ._message import Message
    from ._retry import RetryPolicy
    from .transports.base import Transport


_DEBUG = 10  # logging.DEBUG, without importing logging for it

#: What ``send_many`` returns per message.
Outcome: TypeAlias = "SendResult | SendError"


class Try:
    """Step: send ``message`` once on ``route`` (``send`` / ``asend``); send back the
    :class:`~unisend.SendResult`, or the :class:`~unisend.SendError` it raised."""

    __slots__ = ("message", "route")

    def __init__(self, route: Transport, message: Message) -> None:
        self.route = route
        self.message = message


class TryBatch:
    """Step: send ``messages`` once through ``route``'s batch endpoint (``send_many`` /
    ``asend_many``); send back the list of outcomes, in order."""

    __slots__ = ("messages", "route")

    def __init__(self, route: Transport, messages: list[Message]) -> None:
        self.route = route
        self.messages = messages


class Sleep:
    """Step: wait ``seconds`` with ``policy``'s ``sleep`` / ``async_sleep``; send back None."""

    __slots__ = ("policy", "seconds")

    def __init__(self, seconds: float, policy: RetryPolicy) -> None:
        self.seconds = seconds
        self.policy = policy


Step: TypeAlias = "Try | TryBatch | Sleep"
T = TypeVar("T")
#: A plan: yields steps, is sent their outcomes, returns what the delivery gave.
Plan: TypeAlias = Generator[Step, object, T]


class Routing(ABC):
    """What the plan asks of a router (``Failover``, ``RoundRobin``): which route next,
    and what happened on it. A router only picks; the plan does the rest.

    ``pick(tried)`` is called at the start of a delivery (``tried`` empty) and after each
    route given up on; it returns an index into :attr:`routes`, or None when the
    delivery has no route left. With ``tried`` empty it always returns a route (when
    every route is cooling down, the one that failed longest ago).
    """

    #: The router's own policy; when set it replaces the caller's for its routes.
    retry: RetryPolicy | None
    #: Called with every Attempt made through this router.
    on_attempt: AttemptHook | None
    #: Called when one of its routes is given up on.
    on_failover: FailoverHook | None
    #: Seconds a route given up on is skipped (for the log line).
    cooldown: float
    #: The router's name.
    name: str

    @property
    @abstractmethod
    def routes(self) -> tuple[Transport, ...]:
        """The routes, in declared order."""

    @abstractmethod
    def pick(self, tried: set[int]) -> int | None:
        """The index of the next route to try, skipping ``tried`` and cooling routes."""

    @abstractmethod
    def given_up(self, index: int) -> None:
        """Route ``index`` failed this delivery: cool it down."""

    @abstractmethod
    def succeeded(self, index: int) -> None:
        """Route ``index`` accepted the message: forget its failures."""


# ---------------------------------------------------------------- one message


def deliver(transport: Transport, message: Message, policy: RetryPolicy) -> Plan[SendResult]:
    """The plan of one delivery of ``message`` through ``transport`` (a lone route or a
    router) with ``policy``; it returns the result carrying every try in order."""
    walk = _Walk(message)
    result = yield from walk.route(transport, policy, None)
    return with_attempts(result, walk.trail)


class _Walk:
    """One message's way through the routes, and its trail of tries."""

    __slots__ = ("message", "trail")

    def __init__(self, message: Message) -> None:
        self.message = message
        # A tuple, grown by one per try: most deliveries make one, and the result keeps it.
        self.trail: tuple[Attempt, ...] = ()

    def route(
        self, route: Transport, policy: RetryPolicy, hook: AttemptHook | None
    ) -> Plan[SendResult]:
        """Deliver through ``route``: a router's routes, or tries on a lone route."""
        # The plan of either, not a generator around it: one frame less to resume at
        # each step (and to keep alive while the try is in flight).
        if isinstance(route, Routing):
            return self.router(route, policy, hook)
        return self.tries(route, policy, hook)

    def tries(
        self, route: Transport, policy: RetryPolicy, hook: AttemptHook | None
    ) -> Plan[SendResult]:
        """Up to ``policy.attempts`` tries on one route; raises its last error as itself."""
        number = 0
        clock = policy.clock
        while True:
            number += 1
            started = clock()
            outcome = yield Try(route, self.message)
            if isinstance(outcome, SendError):
                self.trail += (record(route.name, outcome, clock() - started, hook),)
                if not policy.should_retry(outcome, number):
                    raise outcome
                yield Sleep(policy.delay(outcome, number), policy)
                continue
            self.trail += (record(route.name, None, clock() - started, hook),)
            return cast(SendResult, outcome)

    def router(
        self, router: Routing, outer_policy: RetryPolicy, outer_hook: AttemptHook | None
    ) -> Plan[SendResult]:
        """Walk the routes the router picks: the first that accepts wins; MessageRejected
        is raised at once; when none is left, AllRoutesFailed with this walk's tries."""
        policy = router.retry or outer_policy
        hook = _chain(router.on_attempt, outer_hook)
        start, tried = len(self.trail), set[int]()
        index = router.pick(tried)
        while index is not None:
            tried.add(index)
            route = router.routes[index]
            try:
                result = yield from self.route(route, policy, hook)
            except MessageRejected:
                raise
            except SendError as error:
                router.given_up(index)
                index = router.pick(tried)
                _failed_over(router, route.name, error, index)
                continue
            router.succeeded(index)
            return result
        raise _all_failed(router.name, self.trail[start:])


def _failed_over(router: Routing, name: str, error: SendError, following: int | None) -> None:
    to = None if following is None else router.routes[following].name
    logger().info(
        "%s: route %s failed (%s, status %s), cooling down %.1fs; %s",
        router.name,
        name,
        type(error).__name__,
        error.status_code,
        router.cooldown,
        f"trying {to}" if to is not None else "no route left",
    )
    if router.on_failover is not None:
        call_hook(router.on_failover, name, to, error)


def _all_failed(name: str, attempts: Sequence[Attempt]) -> AllRoutesFailed:
    errors = [attempt.error for attempt in attempts if attempt.error is not None]
    tried = list(dict.fromkeys(attempt.transport for attempt in attempts))
    last = f"; last error: {errors[-1]}" if errors else ""
    return AllRoutesFailed(
        f"every route of {name} failed (tried {', '.join(tried)}){last}",
        errors=errors,
        attempts=attempts,
        transport=name,
    )


def _chain(first: AttemptHook | None, second: AttemptHook | None) -> AttemptHook | None:
    if first is None or second is None:
        return first or second

    def both(attempt: Attempt) -> None:
        call_hook(first, attempt)
        call_hook(second, attempt)

    return both


# ---------------------------------------------------------------- batch rounds


def deliver_batch(
    transport: Transport, messages: Sequence[Message], policy: RetryPolicy
) -> Plan[list[Outcome]]:
    """The plan of a batched ``send_many``: the whole list through ``transport``'s batch
    endpoint, then the messages whose outcome is retryable again as a smaller batch, per
    ``policy`` (a round counts as one try for each of its messages). Returns one outcome
    per message, in input order.

    The messages a round carried share its one success record (one request carried them
    all, and an :class:`~unisend.Attempt` is immutable): a batch of thousands leaves one
    result per message behind, not a result, a trail and a record each."""
    trails: list[tuple[Attempt, ...]] = [()] * len(messages)
    results: list[Outcome | None] = [None] * len(messages)
    indexes = list(range(len(messages)))
    name = transport.name
    number = 0
    while indexes:
        number += 1
        started = policy.clock()
        outcomes = yield TryBatch(transport, [messages[index] for index in indexes])
        elapsed = policy.clock() - started
        if not isinstance(outcomes, list) or len(outcomes) != len(indexes):
            count = len(outcomes) if isinstance(outcomes, list) else outcomes
            raise RuntimeError(
                f"{type(transport).__name__}.send_many returned {count} outcomes "
                f"for {len(indexes)} messages"
            )
        again: list[int] = []
        wait = 0.0
        accepted: tuple[Attempt] | None = None
        for index, outcome in zip(indexes, outcomes, strict=True):
            if isinstance(outcome, SendError):
                trails[index] += (record(name, outcome, elapsed, None),)
                results[index] = outcome
                if policy.should_retry(outcome, number):
                    again.append(index)
                    wait = max(wait, policy.delay(outcome, number))
            else:
                if accepted is None:
                    accepted = (record(name, None, elapsed, None),)
                # () + accepted is accepted itself: first-round successes share one tuple
                results[index] = with_attempts(outcome, trails[index] + accepted)
        indexes = again
        if indexes:
            yield Sleep(wait, policy)
    return [outcome for outcome in results if outcome is not None]


# ---------------------------------------------------------------- the trail


def record(name: str, error: SendError | None, elapsed: float, hook: AttemptHook | None) -> Attempt:
    """One try as an :class:`~unisend.Attempt`, logged at DEBUG and told to ``hook``."""
    if error is None:
        attempt = Attempt(name, None, elapsed, False)
        log = logger()
        if log.isEnabledFor(_DEBUG):
            log.debug("attempt on %s succeeded in %.3fs", name, elapsed)
    else:
        if not error.transport:
            error.transport = name
        attempt = Attempt(name, error, elapsed, error.ambiguous)
        logger().debug(
            "attempt on %s failed: %s (status %s, ambiguous=%s)",
            name,
            type(error).__name__,
            error.status_code,
            error.ambiguous,
        )
    if hook is not None:
        call_hook(hook, attempt)
    return attempt


def with_attempts(result: SendResult, attempts: tuple[Attempt, ...]) -> SendResult:
    """A copy of ``result`` carrying ``attempts`` (every field kept, whatever fields
    SendResult or a subclass has; 1.1 us where ``dataclasses.replace`` takes 1.8)."""
    cls = type(result)
    clone = object.__new__(cls)
    for name in _fields(cls):
        object.__setattr__(clone, name, getattr(result, name))
    object.__setattr__(clone, "attempts", attempts)
    attributes = getattr(result, "__dict__", None)  # a subclass without slots
    if attributes:
        clone.__dict__.update(attributes)
    return clone


def _fields(cls: type[SendResult]) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(each.name for each in fields(cls))
    return names


_FIELDS: dict[type[SendResult], tuple[str, ...]] = {}


__all__ = [
    "Outcome",
    "Plan",
    "Routing",
    "Sleep",
    "Try",
    "TryBatch",
    "deliver",
    "deliver_batch",
    "record",
    "with_attempts",
]
