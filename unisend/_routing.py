"""Routing between transports: :class:`Failover` and :class:`RoundRobin`, one engine.

Each send walks routes picked by the router (declared order for ``Failover``, smooth
weighted rotation for ``RoundRobin``), applying the :class:`~unisend.RetryPolicy` per
route. The error class decides what happens next:

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

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from ._errors import AllRoutesFailed, ConfigurationError, MessageRejected, SendError
from ._hooks import AttemptHook, FailoverHook, call_hook
from ._retry import NO_RETRY, RetryPolicy, asend_with_retry, send_with_retry
from .transports.base import Transport

if TYPE_CHECKING:
    from ._message import Message
    from ._result import Attempt, SendResult
    from ._url import UrlSpec

logger = logging.getLogger("unisend")


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


def _chain(first: AttemptHook | None, second: AttemptHook | None) -> AttemptHook | None:
    if first is None or second is None:
        return first or second

    def both(attempt: Attempt) -> None:
        call_hook(first, attempt)
        call_hook(second, attempt)

    return both


class _Router(Transport):
    """The routing engine shared by :class:`Failover` and :class:`RoundRobin`."""

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
        """Walk the routes once each, without retry (unless the router has its own
        ``retry``); see :meth:`deliver`."""
        return self.deliver(message, NO_RETRY)

    async def asend(self, message: Message) -> SendResult:
        """Async :meth:`send`."""
        return await self.adeliver(message, NO_RETRY)

    def deliver(self, message: Message, retry: RetryPolicy) -> SendResult:
        """Send through the routes with ``retry`` applied per route (the router's own
        ``retry`` wins when set). The result's ``attempts`` lists every try in order."""
        return self._deliver_into(message, retry, [], None)

    async def adeliver(self, message: Message, retry: RetryPolicy) -> SendResult:
        """Async :meth:`deliver`."""
        return await self._adeliver_into(message, retry, [], None)

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

    # -- the walk --------------------------------------------------------------------------

    def _deliver_into(
        self,
        message: Message,
        retry: RetryPolicy,
        trail: list[Attempt],
        outer_hook: AttemptHook | None,
    ) -> SendResult:
        policy = self.retry or retry
        hook = _chain(self.on_attempt, outer_hook)
        start, tried = len(trail), set[int]()
        index = self._next(tried)
        while index is not None:
            tried.add(index)
            route = self._routes[index]
            try:
                if isinstance(route, _Router):
                    result = route._deliver_into(message, policy, trail, hook)
                else:
                    result = send_with_retry(route, message, policy, trail, hook)
            except MessageRejected:
                raise
            except SendError as error:
                index = self._given_up(index, error, tried)
                continue
            self._succeeded(index)
            return result  # its attempts already hold the whole trail (shared list)
        raise self._all_failed(trail[start:])

    async def _adeliver_into(
        self,
        message: Message,
        retry: RetryPolicy,
        trail: list[Attempt],
        outer_hook: AttemptHook | None,
    ) -> SendResult:
        policy = self.retry or retry
        hook = _chain(self.on_attempt, outer_hook)
        start, tried = len(trail), set[int]()
        index = self._next(tried)
        while index is not None:
            tried.add(index)
            route = self._routes[index]
            try:
                if isinstance(route, _Router):
                    result = await route._adeliver_into(message, policy, trail, hook)
                else:
                    result = await asend_with_retry(route, message, policy, trail, hook)
            except MessageRejected:
                raise
            except SendError as error:
                index = self._given_up(index, error, tried)
                continue
            self._succeeded(index)
            return result  # its attempts already hold the whole trail (shared list)
        raise self._all_failed(trail[start:])

    def _given_up(self, index: int, error: SendError, tried: set[int]) -> int | None:
        """Cool route ``index`` down, pick the next route, tell the logs and the hook."""
        route = self._routes[index]
        with self._lock:
            now = self._clock()
            state = self._state[index]
            state.failures += 1
            state.failed_at = now
            state.cooling_until = now + self.cooldown
        following = self._next(tried)
        to = None if following is None else self._routes[following].name
        logger.info(
            "%s: route %s failed (%s, status %s), cooling down %.1fs; %s",
            self.name,
            route.name,
            type(error).__name__,
            error.status_code,
            self.cooldown,
            f"trying {to}" if to is not None else "no route left",
        )
        if self.on_failover is not None:
            call_hook(self.on_failover, route.name, to, error)
        return following

    def _succeeded(self, index: int) -> None:
        with self._lock:
            state = self._state[index]
            state.failures = 0
            state.cooling_until = None

    def _all_failed(self, attempts: Sequence[Attempt]) -> AllRoutesFailed:
        errors = [attempt.error for attempt in attempts if attempt.error is not None]
        tried = list(dict.fromkeys(attempt.transport for attempt in attempts))
        last = f"; last error: {errors[-1]}" if errors else ""
        return AllRoutesFailed(
            f"every route of {self.name} failed (tried {', '.join(tried)}){last}",
            errors=errors,
            attempts=attempts,
            transport=self.name,
        )

    # -- picking ---------------------------------------------------------------------------

    @staticmethod
    def _cooling(state: _RouteState, now: float) -> bool:
        return state.cooling_until is not None and now < state.cooling_until

    def _next(self, tried: set[int]) -> int | None:
        """The next route for this send, or None when it has none left."""
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
        cooldown: float = 60.0,
        name: str | None = None,
        retry: RetryPolicy | None = None,
        on_attempt: AttemptHook | None = None,
        on_failover: FailoverHook | None = None,
        _clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            transports,
            cooldown=cooldown,
            name=name,
            retry=retry,
            on_attempt=on_attempt,
            on_failover=on_failover,
            _clock=_clock,
        )
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


# -- composition URLs: failover(URL URL ...)?cooldown=30, roundrobin(URL URL)?weights=3,1 ------

_RETRY_KEYS = ("attempts", "backoff", "max_backoff", "max_retry_after", "jitter")


def _failover_query(
    *,
    name: str = "",
    cooldown: float = 60.0,
    attempts: int = 3,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    max_retry_after: float = 60.0,
    jitter: bool = True,
) -> None:
    """The query parameters ``failover(...)`` takes (typed by their defaults)."""


def _roundrobin_query(
    *,
    name: str = "",
    weights: str = "",
    cooldown: float = 60.0,
    attempts: int = 3,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    max_retry_after: float = 60.0,
    jitter: bool = True,
) -> None:
    """The query parameters ``roundrobin(...)`` takes (typed by their defaults)."""


def _common(spec: UrlSpec, options: dict[str, object]) -> dict[str, object]:
    """cooldown and name as they are; the retry keys become the router's own RetryPolicy."""
    common: dict[str, object] = {}
    if "cooldown" in options:
        common["cooldown"] = options["cooldown"]
    if options.get("name"):
        common["name"] = options["name"]
    retry = {key: options[key] for key in _RETRY_KEYS if key in options}
    if retry:
        try:
            common["retry"] = RetryPolicy(**retry)  # type: ignore[arg-type]
        except ConfigurationError as exc:
            raise ConfigurationError(f"{spec.display}: {exc}") from None
    return common


def failover_from_spec(children: list[Transport], spec: UrlSpec) -> Failover:
    """``failover(URL URL ...)?cooldown=30&attempts=2&backoff=0.1&name=mail``"""
    options = spec.kwargs_for(_failover_query)
    try:
        return Failover(children, **_common(spec, options))  # type: ignore[arg-type]
    except ConfigurationError as exc:
        raise ConfigurationError(f"{spec.display}: {exc}") from None


def roundrobin_from_spec(children: list[Transport], spec: UrlSpec) -> RoundRobin:
    """``roundrobin(URL URL ...)?weights=3,1&cooldown=30&attempts=2``"""
    options = spec.kwargs_for(_roundrobin_query)
    weights: list[int] | None = None
    raw = str(options.get("weights", ""))
    if raw:
        try:
            weights = [int(part) for part in raw.split(",")]
        except ValueError:
            raise ConfigurationError(
                f"{spec.display}: weights={raw!r} must be whole numbers separated by commas, "
                "e.g. weights=3,1"
            ) from None
    try:
        return RoundRobin(children, weights=weights, **_common(spec, options))  # type: ignore[arg-type]
    except ConfigurationError as exc:
        raise ConfigurationError(f"{spec.display}: {exc}") from None


__all__ = ["Failover", "RoundRobin", "RouteHealth", "failover_from_spec", "roundrobin_from_spec"]
