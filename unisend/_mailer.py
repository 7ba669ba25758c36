"""The front doors: :class:`Mailer` (sync) and :class:`AsyncMailer`, the two drivers.

A delivery is a plan (:mod:`unisend._delivery`) that never does I/O; :func:`run` and
:func:`arun` perform its steps, with blocking calls and awaits respectively. Nothing else
differs between the two mailers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._bulk import (
    ASYNC_CONCURRENCY,
    SYNC_CONCURRENCY,
    batch_limit,
    check_concurrency,
    map_tasks,
    map_threads,
)
from ._delivery import Plan, Sleep, Try, deliver, deliver_batch
from ._errors import ConfigurationError, InvalidMessage, SendError
from ._message import Address, Message
from ._result import SendResult
from ._retry import RetryPolicy
from ._url import from_url
from .transports.base import require_sender

if TYPE_CHECKING:
    from typing_extensions import Self

    from .spool import Spool
    from .transports.base import Transport

T = TypeVar("T")

#: The injection point of :func:`unisend.testing.capture_outbox`: while it holds a
#: transport, every mailer in this context sends through it instead of its own.
ROUTE_OVERRIDE: ContextVar[Transport | None] = ContextVar("unisend_route", default=None)

#: The route used when neither a URL nor ``UNISEND_URL`` is given.
DEFAULT_URL = "sandbox://"

#: The environment variable that turns the sandbox fallback into an error (production).
REQUIRE_URL_VARIABLE = "UNISEND_REQUIRE_URL"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def url_from_env() -> str:
    """``$UNISEND_URL``, else :data:`DEFAULT_URL` (the local sandbox).

    With ``UNISEND_REQUIRE_URL=1`` (also ``true``, ``yes``, ``on``) a missing or empty
    ``UNISEND_URL`` is a :class:`~unisend.ConfigurationError` instead, so a production
    deployment that lost its configuration fails at start-up rather than keeping mail
    in a local file. ``UNISEND_URL=sandbox://`` stays allowed: it is said on purpose.
    """
    url = os.environ.get("UNISEND_URL", "")
    if url:
        return url
    flag = os.environ.get(REQUIRE_URL_VARIABLE, "").strip().lower()
    if flag in _TRUE:
        raise ConfigurationError(
            f"UNISEND_URL is not set and {REQUIRE_URL_VARIABLE}={flag} forbids the sandbox "
            "fallback: set UNISEND_URL to the route mail should take "
            "(e.g. 'smtp://user:pass@smtp.example.com:587'; see docs/configuration.md)"
        )
    if flag not in _FALSE:
        raise ConfigurationError(
            f"{REQUIRE_URL_VARIABLE} must be 1 or 0 (also true/false, yes/no, on/off), got {flag!r}"
        )
    return DEFAULT_URL


def run(plan: Plan[T]) -> T:
    """The sync driver: perform each step of ``plan`` (blocking) and return its value."""
    outcome: object = None
    try:
        while True:
            step = plan.send(outcome)
            if isinstance(step, Try):
                try:
                    outcome = step.route.send(step.message)
                except SendError as error:
                    outcome = error
            elif isinstance(step, Sleep):
                step.policy.sleep(step.seconds)
                outcome = None
            else:
                outcome = step.route.send_many(step.messages)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def arun(plan: Plan[T]) -> T:
    """The async driver: :func:`run` with every step awaited; never blocks the loop."""
    outcome: object = None
    try:
        while True:
            step = plan.send(outcome)
            if isinstance(step, Try):
                try:
                    outcome = await step.route.asend(step.message)
                except SendError as error:
                    outcome = error
            elif isinstance(step, Sleep):
                await step.policy.async_sleep(step.seconds)
                outcome = None
            else:
                outcome = await step.route.asend_many(step.messages)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _not_a_route(owner: str, transport: object) -> str:
    """What to say when a mailer is given neither a transport nor a URL string."""
    if transport is None:
        return (
            f"{owner}() needs a transport or a configuration URL, got None: if it came from "
            "os.environ.get('UNISEND_URL'), that variable is unset; set it, or use "
            f"{owner}.from_env(), which falls back to {DEFAULT_URL}"
        )
    return (
        f"{owner}() needs a transport or a configuration URL string, got {type(transport).__name__}"
    )


class _BaseMailer:
    """What both mailers share: defaults and message preparation, no I/O."""

    def __init__(
        self,
        transport: Transport | str,
        *,
        default_sender: Address | str | None = None,
        retry: RetryPolicy | None = None,
        spool: Spool | str | os.PathLike[str] | None = None,
    ) -> None:
        if isinstance(transport, str):
            transport = from_url(transport)
        elif not callable(getattr(transport, "send", None)):
            raise ConfigurationError(_not_a_route(type(self).__name__, transport))
        self.transport = transport
        self.default_sender = (
            None if default_sender is None else Address.parse(default_sender, "default_sender")
        )
        self.retry = retry if retry is not None else RetryPolicy()
        #: Where messages that no route accepts now are kept for later (see :class:`Spool`).
        self.spool = _open_spool(spool)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Self:
        """Build a mailer over the transport that ``url`` describes."""
        return cls(from_url(url), **kwargs)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """Build a mailer from ``UNISEND_URL``; without it, mail goes to the local sandbox.

        Set ``UNISEND_REQUIRE_URL=1`` in production: a missing ``UNISEND_URL`` then raises
        :class:`~unisend.ConfigurationError` instead of falling back to ``sandbox://``.
        With ``UNISEND_SPOOL`` set, what no route accepts now is queued there.
        """
        if os.environ.get("UNISEND_SPOOL") and "spool" not in kwargs:
            kwargs["spool"] = os.environ["UNISEND_SPOOL"]
        return cls(from_url(url_from_env()), **kwargs)

    def _prepare(self, message: Message) -> Message:
        if not isinstance(message, Message):
            raise InvalidMessage(f"expected a unisend.Message, got {type(message).__name__}")
        if message.sender is not None:
            return message
        # without a default sender, require_sender raises, saying how to set one
        return message.with_sender(self.default_sender or require_sender(message))

    def _route(self) -> Transport:
        """The transport to send through: the mailer's own, unless a test captures."""
        return ROUTE_OVERRIDE.get() or self.transport

    def _prepare_all(self, route: Transport, messages: Sequence[Message]) -> list[Message]:
        """Prepare and check every message before any is sent (nothing goes out when one
        is invalid, or cannot be carried by the route)."""
        prepared = [self._prepare(message) for message in messages]
        # A batch transport builds (and so checks) every request before the first goes out.
        if not batch_limit(route):
            for message in prepared:
                route.check(message)
        return prepared

    def __repr__(self) -> str:
        return f"<{type(self).__name__} transport={self.transport!r}>"


class Mailer(_BaseMailer):
    """Send mail synchronously: ``Mailer(transport, default_sender=None, retry=RetryPolicy())``.

    Use it as a context manager so pooled connections are closed (SMTP: one connection
    is shared by the sends inside the block and closed with QUIT on exit).
    """

    def send(self, message: Message) -> SendResult:
        """Send one message; return its :class:`SendResult` or raise a :class:`SendError`.

        With a ``spool``, a message that no route accepts now (transient or route
        failures) is queued instead: the result has ``queued=True`` and its ``spool_id``.
        """
        prepared = self._prepare(message)
        try:
            return self._send_now(prepared)
        except SendError as error:
            if self.spool is None or not spoolable(error):
                raise
            return queued_result(self.spool.put(prepared), error)

    def _send_now(self, message: Message) -> SendResult:
        return run(deliver(self._route(), message, self.retry))

    def send_many(
        self, messages: Sequence[Message], *, concurrency: int = SYNC_CONCURRENCY
    ) -> list[SendResult | SendError]:
        """Send many; each item is a SendResult or the SendError of that message, in order.

        Every message is validated first: an invalid one raises before anything is sent.
        A transport with a batch endpoint (Postmark, Mailtrap, Mailjet) gets the list in
        batches (``concurrency`` does not apply), and the retryable failures are sent
        again as a batch, per the retry policy. Otherwise each message is sent with retry
        (and failover), ``concurrency`` at a time: 1 (the default) sends one after the
        other in this thread, so one SMTP connection serves them all; more uses that many
        worker threads, which pays off for the HTTP transports (their client is shared
        safely between threads) and for ``SMTPTransport(pool_size=N)`` up to N.
        """
        outcomes = self._send_many_now(messages, concurrency)
        if self.spool is None:
            return outcomes
        prepared = [self._prepare(message) for message in messages]
        return spool_failures(self.spool, prepared, outcomes)

    def _send_many_now(
        self, messages: Sequence[Message], concurrency: int
    ) -> list[SendResult | SendError]:
        check_concurrency(concurrency)
        route = self._route()
        prepared = self._prepare_all(route, messages)
        if batch_limit(route):
            return run(deliver_batch(route, prepared, self.retry))
        retry = self.retry
        return map_threads(
            lambda message: run(deliver(route, message, retry)), prepared, concurrency, SendError
        )

    def close(self) -> None:
        """Close the transport's connections."""
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncMailer(_BaseMailer):
    """The async twin of :class:`Mailer`; never blocks the event loop."""

    async def send(self, message: Message) -> SendResult:
        """Send one message; return its :class:`SendResult` or raise a :class:`SendError`
        (with a ``spool``, queue what no route accepts now, as :meth:`Mailer.send`)."""
        prepared = self._prepare(message)
        try:
            return await self._send_now(prepared)
        except SendError as error:
            if self.spool is None or not spoolable(error):
                raise
            import asyncio

            entry = await asyncio.to_thread(self.spool.put, prepared)
            return queued_result(entry, error)

    async def _send_now(self, message: Message) -> SendResult:
        return await arun(deliver(self._route(), message, self.retry))

    async def send_many(
        self, messages: Sequence[Message], *, concurrency: int = ASYNC_CONCURRENCY
    ) -> list[SendResult | SendError]:
        """Async :meth:`Mailer.send_many`, with at most ``concurrency`` messages in flight
        (default 32; batch endpoints are used as in :meth:`Mailer.send_many`)."""
        outcomes = await self._send_many_now(messages, concurrency)
        if self.spool is None:
            return outcomes
        import asyncio

        prepared = [self._prepare(message) for message in messages]
        return await asyncio.to_thread(spool_failures, self.spool, prepared, outcomes)

    async def _send_many_now(
        self, messages: Sequence[Message], concurrency: int
    ) -> list[SendResult | SendError]:
        check_concurrency(concurrency)
        route = self._route()
        prepared = self._prepare_all(route, messages)
        if batch_limit(route):
            return await arun(deliver_batch(route, prepared, self.retry))
        retry = self.retry
        return await map_tasks(
            lambda message: arun(deliver(route, message, retry)), prepared, concurrency, SendError
        )

    async def aclose(self) -> None:
        """Close the transport's connections."""
        await self.transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _open_spool(spool: Spool | str | os.PathLike[str] | None) -> Spool | None:
    if spool is None:
        return None
    from .spool import Spool

    return spool if isinstance(spool, Spool) else Spool(spool)


def spoolable(error: SendError) -> bool:
    """True when a later try may succeed: transient and route failures, not rejections."""
    from .spool._spool import _is_final

    return not _is_final(error)


def queued_result(entry: Any, error: SendError) -> SendResult:
    """The result of a send that was queued in the spool as ``entry`` after ``error``."""
    return SendResult(
        message_id=None,
        transport="spool",
        attempts=tuple(getattr(error, "attempts", ()) or ()),
        queued=True,
        spool_id=entry.id,
    )


def spool_failures(
    spool: Spool, messages: Sequence[Message], outcomes: Sequence[SendResult | SendError]
) -> list[SendResult | SendError]:
    """Queue (in one transaction) the messages whose outcome is spoolable; their
    outcomes become queued results."""
    failed = [
        index
        for index, outcome in enumerate(outcomes)
        if isinstance(outcome, SendError) and spoolable(outcome)
    ]
    results = list(outcomes)
    if failed:
        entries = spool.put_many([messages[index] for index in failed])
        for index, entry in zip(failed, entries, strict=True):
            error = outcomes[index]
            assert isinstance(error, SendError)
            results[index] = queued_result(entry, error)
    return results


__all__ = [
    "DEFAULT_URL",
    "REQUIRE_URL_VARIABLE",
    "ROUTE_OVERRIDE",
    "AsyncMailer",
    "Mailer",
    "arun",
    "run",
    "url_from_env",
]
