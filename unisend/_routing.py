"""Routing between transports: :class:`Failover` and :class:`RoundRobin`.

A router only picks. The delivery plan (:mod:`unisend._delivery`) asks it which route is
next (:meth:`~_Router.pick`: declared order for ``Failover``, smooth weighted rotation for
``RoundRobin``) and tells it what happened (:meth:`~_Router.given_up`,
:meth:`~_Router.succeeded`); retry, the attempt trail, hooks and errors are the plan's:

- :class:`~unisend.TransientError` / :class:`~unisend.RateLimited`: retried on the same
  route; once its tries are exhausted, the route cools down and the next one is taken;
- :class:`~unisend.ProviderError`: no retry, the route cools down, the next one is taken;
- :class:`~unisend.MessageRejected`: raised at once as itself; no route cools down;
- every route failed: :class:`~unisend.AllRoutesFailed` with each try's error in order.

A cooling route is skipped for ``cooldown`` seconds (on an injectable monotonic clock),
then it is picked again as if it never failed (no stickiness to the backup). When every
route is cooling at the start of a send, the one that failed longest ago is tried.
The small state updates are guarded by a lock that is never held across I/O, so one
router serves many threads and many asyncio tasks at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, TypedDict

from ._delivery import Routing, deliver
from ._errors import ConfigurationError
from ._hooks import AttemptHook, FailoverHook
from ._retry import NO_RETRY, RetryPolicy
from .transports.base import Transport

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._message import Message
    from ._result import SendResult


@dataclass(frozen=True)
class RouteHealth:
    """A read-only snapshot of one route, as :meth:`Failover.health` returns it."""

    #: The route's ``.name``.
    name: str
    #: ``"cooling"`` while the route is skipped, else ``"healthy"``.
    state: Literal["healthy", "cooling"]
    #: When the cooldown ends, on the router's monotonic clock; None when not cooling.
    cooling_until: float | None
    #: Sends in a row on which this route was given up on (0 after a success).
    consecutive_failures: int


class _RouteState:
    """Mutable per-route state; only touched under the router's lock."""

    __slots__ = ("cooling_until", "current_weight", "failed_at", "failures")

    def __init__(self) -> None:
        self.failures = 0
        self.cooling_until: float | None = None
        self.failed_at: float | None = None
        self.current_weight = 0


class RouterOptions(TypedDict, total=False):
    """The keywords every router takes (see :class:`Failover`), passed on by
    ``RoundRobin(..., **options)`` so type checkers still see each one."""

    cooldown: float
    name: str | None
    retry: RetryPolicy | None
    on_attempt: AttemptHook | None
    on_failover: FailoverHook | None
    _clock: Callable[[], float]


class _Router(Transport, Routing):
    """What :class:`Failover` and :class:`RoundRobin` share: route state, cooldown,
    health; they differ only in :meth:`_choose`."""

    kind: ClassVar[str] = "router"

    def __init__(
        self,
        transports: Sequence[Transport | str],
        *,
        cooldown: float = 60.0,
        name: str | None = None,
        retry: RetryPolicy | None = None,
        on_attempt: AttemptHook | None = None,
        on_failover: FailoverHook | None = None,
        _clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name=name)
        self._routes = _check_routes(self.kind, transports)
        if (
            isinstance(cooldown, bool)
            or not isinstance(cooldown, (int, float))
            or math.isnan(cooldown)
            or cooldown < 0
        ):
            raise ConfigurationError(
                f"{self.kind}: cooldown must be a number of seconds >= 0, got {cooldown!r}"
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(
                f"{self.kind}: retry must be a RetryPolicy, got {type(retry).__name__}"
            )
        for hook_name, hook in (("on_attempt", on_attempt), ("on_failover", on_failover)):
            if hook is not None and not callable(hook):
                raise ConfigurationError(f"{self.kind}: {hook_name} must be callable")
        #: Seconds a failed route is skipped.
        self.cooldown = float(cooldown)
        #: The router's own retry policy; when set it replaces the caller's for its routes.
        self.retry = retry
        #: Called with every Attempt (see :mod:`unisend._hooks`).
        self.on_attempt = on_attempt
        #: Called when a route is given up on (see :mod:`unisend._hooks`).
        self.on_failover = on_failover
        self._clock = _clock
        self._lock = threading.Lock()
        self._state = [_RouteState() for _ in self._routes]

    # -- public API ------------------------------------------------------------------------

    @property
    def routes(self) -> tuple[Transport, ...]:
        """The routes, in declared order."""
        return self._routes

    def health(self) -> tuple[RouteHealth, ...]:
        """A read-only snapshot of every route, in declared order."""
        with self._lock:
            now = self._clock()
            return tuple(
                RouteHealth(
                    name=route.name,
                    state="cooling" if self._cooling(state, now) else "healthy",
                    cooling_until=state.cooling_until if self._cooling(state, now) else None,
                    consecutive_failures=state.failures,
                )
                for route, state in zip(self._routes, self._state, strict=True)
            )

    def reset(self) -> None:
        """Forget every failure and cooldown (and restart the rotation)."""
        with self._lock:
            self._state = [_RouteState() for _ in self._routes]

    def send(self, message: Message) -> SendResult:
        """Deliver ``message`` through the routes, each tried once (or per the router's
        own ``retry``): the whole walk of :mod:`unisend._delivery`, run here by the sync
        driver. Inside a mailer the router is never sent through: the plan asks it
        which route is next (:meth:`pick`) and tells it what happened."""
        from ._mailer import run

        return run(deliver(self, message, NO_RETRY))

    async def asend(self, message: Message) -> SendResult:
        """Async :meth:`send`."""
        from ._mailer import arun

        return await arun(deliver(self, message, NO_RETRY))

    def check(self, message: Message) -> None:
        """Check ``message`` against every route: any of them may end up carrying it."""
        for route in self._routes:
            route.check(message)

    def close(self) -> None:
        """Close every route (each one even if another fails to close)."""
        first: BaseException | None = None
        for route in self._routes:
            try:
                route.close()
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        first: BaseException | None = None
        for route in self._routes:
            try:
                await route.aclose()
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first

    def _describe(self) -> str:
        return f"routes=[{', '.join(route.name for route in self._routes)}]"

    # -- what the delivery plan asks (see unisend._delivery.Routing) ---------------------

    def given_up(self, index: int) -> None:
        """Route ``index`` failed this delivery: it cools down for :attr:`cooldown`."""
        with self._lock:
            now = self._clock()
            state = self._state[index]
            state.failures += 1
            state.failed_at = now
            state.cooling_until = now + self.cooldown

    def succeeded(self, index: int) -> None:
        """Route ``index`` accepted a message: its failures are forgotten."""
        with self._lock:
            state = self._state[index]
            state.failures = 0
            state.cooling_until = None

    # -- picking ---------------------------------------------------------------------------

    @staticmethod
    def _cooling(state: _RouteState, now: float) -> bool:
        return state.cooling_until is not None and now < state.cooling_until

    def pick(self, tried: set[int]) -> int | None:
        """The next route for this delivery, skipping ``tried`` and the cooling routes,
        or None when it has none left."""
        with self._lock:
            now = self._clock()
            ready = [
                i
                for i, state in enumerate(self._state)
                if i not in tried and not self._cooling(state, now)
            ]
            if ready:
                return self._choose(ready)
            if tried:
                return None
            # Every route is cooling: try the one that failed longest ago rather than
            # failing without a try (it is the most likely to have recovered).
            return min(
                range(len(self._state)),
                key=lambda i: (self._state[i].failed_at or 0.0, i),
            )

    def _choose(self, ready: list[int]) -> int:
        """Pick among ``ready`` (route indexes not cooling, in declared order); under the lock."""
        raise NotImplementedError


class Failover(_Router):
    """Try the routes in declared order on every send, skipping those cooling down.

    ``Failover([primary, backup], cooldown=60.0)``: a route whose tries are exhausted on
    transient errors, or that raised a :class:`~unisend.ProviderError`, is skipped for
    ``cooldown`` seconds; afterwards it is tried first again. A
    :class:`~unisend.MessageRejected` is raised at once and never cools a route down. When
    every route failed, :class:`~unisend.AllRoutesFailed` is raised.

    Routes may be transports or configuration URLs (built with :func:`~unisend.from_url`).
    ``retry`` (optional) replaces the caller's :class:`~unisend.RetryPolicy` for these
    routes; ``on_attempt`` / ``on_failover`` are hooks (see the resilience docs).
    :meth:`health` shows each route's state; :meth:`reset` forgets every failure.
    """

    default_name = "failover"
    kind = "Failover"

    def _choose(self, ready: list[int]) -> int:
        return ready[0]


class RoundRobin(_Router):
    """Spread sends over the routes by smooth weighted rotation; on failure move on.

    ``RoundRobin([a, b, c], weights=[5, 1, 1])`` picks ``a a b a c a a`` and again (the
    nginx smooth weighted round-robin: strict and deterministic, never random); without
    ``weights`` every route has weight 1. A failed route is given up on and cooled down as
    in :class:`Failover`, and the send moves on to the next route of the rotation. The
    rotation runs over the routes not cooling down and restarts when that set changes.
    """

    default_name = "roundrobin"
    kind = "RoundRobin"

    def __init__(
        self,
        transports: Sequence[Transport | str],
        *,
        weights: Sequence[int] | None = None,
        **options: Unpack[RouterOptions],
    ) -> None:
        super().__init__(transports, **options)
        #: Each route's weight, in declared order.
        self.weights = _check_weights(weights, len(self._routes))
        self._rotation: list[int] = list(range(len(self._routes)))

    def reset(self) -> None:
        """Forget every failure and cooldown and restart the rotation."""
        with self._lock:
            self._state = [_RouteState() for _ in self._routes]
            self._rotation = list(range(len(self._routes)))

    def _choose(self, ready: list[int]) -> int:
        # nginx's smooth weighted round-robin over the routes that are ready. When that
        # set changes (a route starts or ends cooling), the rotation restarts, so a route
        # coming back is not starved by the turn it was charged for when it failed.
        if ready != self._rotation:
            self._rotation = ready
            for state in self._state:
                state.current_weight = 0
        total, best = 0, ready[0]
        for i in ready:
            state = self._state[i]
            state.current_weight += self.weights[i]
            total += self.weights[i]
            if state.current_weight > self._state[best].current_weight:
                best = i
        self._state[best].current_weight -= total
        return best


def _check_routes(kind: str, transports: Sequence[Transport | str]) -> tuple[Transport, ...]:
    if isinstance(transports, (str, Transport)) or not isinstance(transports, Sequence):
        raise ConfigurationError(
            f"{kind} takes a list of transports, e.g. {kind}([primary, backup]); "
            f"got {type(transports).__name__}"
        )
    if not transports:
        raise ConfigurationError(f"{kind} needs at least one route")
    routes: list[Transport] = []
    for position, route in enumerate(transports, 1):
        if isinstance(route, str):
            from ._url import from_url

            route = from_url(route)
        if not isinstance(route, Transport):
            raise ConfigurationError(
                f"{kind}: route {position} must be a Transport or a URL, got {type(route).__name__}"
            )
        routes.append(route)
    return tuple(routes)


def _check_weights(weights: Sequence[int] | None, count: int) -> tuple[int, ...]:
    if weights is None:
        return (1,) * count
    values = tuple(weights)
    if len(values) != count:
        raise ConfigurationError(
            f"RoundRobin: {len(values)} weights given for {count} routes; give one per route"
        )
    for weight in values:
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
            raise ConfigurationError(
                f"RoundRobin: weights must be whole numbers >= 1, got {weight!r}"
            )
    return values


__all__ = ["Failover", "RoundRobin", "RouteHealth"]
