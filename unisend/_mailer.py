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
from ._delivery import Outcome, Plan, Sleep, Try, deliver, deliver_batch
from ._errors import ConfigurationError, InvalidMessage, SendError
from ._message import Address, Message
from ._result import SendResult
from ._retry import RetryPolicy
from ._url import from_url
from .transports.base import require_sender

if TYPE_CHECKING:
    from typing_extensions import Self

    from .transports.base import Transport

T = TypeVar("T")

#: The injection point of :func:`unisend.testing.capture_outbox`: while it holds a
#: transport, every mailer in this context sends through it instead of its own.
ROUTE_OVERRIDE: ContextVar[Transport | None] = ContextVar("unisend_route", default=None)

#: The route used when neither a URL nor ``UNISEND_URL`` is given.
DEFAULT_URL = "sandbox://"


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

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Self:
        """Build a mailer over the transport that ``url`` describes."""
        return cls(from_url(url), **kwargs)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """Build a mailer from ``UNISEND_URL``; without it, mail goes to the local sandbox."""
        return cls(from_url(os.environ.get("UNISEND_URL") or DEFAULT_URL), **kwargs)

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
        """Send one message; return its :class:`SendResult` or raise a :class:`SendError`."""
        return run(deliver(self._route(), self._prepare(message), self.retry))

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
        check_concurrency(concurrency)
        route = self._route()
        prepared = self._prepare_all(route, messages)
        if batch_limit(route):
            return run(deliver_batch(route, prepared, self.retry))

        def one(message: Message) -> Outcome:
            try:
                return run(deliver(route, message, self.retry))
            except SendError as exc:
                return exc

        return map_threads(one, prepared, concurrency)

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
        """Send one message; return its :class:`SendResult` or raise a :class:`SendError`."""
        return await arun(deliver(self._route(), self._prepare(message), self.retry))

    async def send_many(
        self, messages: Sequence[Message], *, concurrency: int = ASYNC_CONCURRENCY
    ) -> list[SendResult | SendError]:
        """Async :meth:`Mailer.send_many`, with at most ``concurrency`` messages in flight
        (default 32; batch endpoints are used as in :meth:`Mailer.send_many`)."""
        check_concurrency(concurrency)
        route = self._route()
        prepared = self._prepare_all(route, messages)
        if batch_limit(route):
            return await arun(deliver_batch(route, prepared, self.retry))

        async def one(message: Message) -> Outcome:
            try:
                return await arun(deliver(route, message, self.retry))
            except SendError as exc:
                return exc

        return await map_tasks(one, prepared, concurrency)

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


__all__ = ["DEFAULT_URL", "ROUTE_OVERRIDE", "AsyncMailer", "Mailer", "arun", "run"]
