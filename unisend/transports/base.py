"""The transport contract every route implements.

A transport turns one :class:`~unisend.Message` into one try: :meth:`Transport.send` /
:meth:`Transport.asend` send once or raise a classified :class:`~unisend.SendError`;
:meth:`Transport.check` refuses, without I/O, what the route cannot carry;
:meth:`Transport.close` / :meth:`Transport.aclose` release connections. A transport with
a batch endpoint also sets ``batch_limit`` and overrides :meth:`Transport.send_many` /
:meth:`Transport.asend_many` (one request per chunk, outcomes in place).

A transport never sleeps or retries, and this package imports nothing from the engine:
retry, routing and the attempt trail are the delivery plan's (:mod:`unisend._delivery`),
run by the mailers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar

from .._errors import InvalidMessage, SendError
from .._message import Message
from .._result import SendResult

if TYPE_CHECKING:
    from typing_extensions import Self

    from .._message import Address


class Transport(ABC):
    """A route mail can leave by. Subclasses implement :meth:`send` (and usually
    :meth:`asend`); both raise a classified :class:`~unisend.SendError` on failure."""

    #: The default ``name``: the provider's name, e.g. ``"smtp"`` or ``"sendgrid"``.
    default_name: ClassVar[str] = "transport"

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name or self.default_name

    @abstractmethod
    def send(self, message: Message) -> SendResult:
        """Send one message once, or raise a :class:`~unisend.SendError`."""

    def check(self, message: Message) -> None:  # noqa: B027 - nothing to check by default
        """Raise :class:`~unisend.InvalidMessage` now, without I/O, for what this route
        cannot carry (``send_many`` checks every message before sending any)."""

    async def asend(self, message: Message) -> SendResult:
        """Send one message without blocking the event loop.

        The default runs :meth:`send` in a worker thread; native async transports
        override it.
        """
        import asyncio  # loaded already in any async caller

        return await asyncio.to_thread(self.send, message)

    def send_many(self, messages: Sequence[Message]) -> list[SendResult | SendError]:
        """Send each message; failures are returned in place, in input order."""
        results: list[SendResult | SendError] = []
        for message in messages:
            try:
                results.append(self.send(message))
            except SendError as exc:
                results.append(exc)
        return results

    async def asend_many(self, messages: Sequence[Message]) -> list[SendResult | SendError]:
        """Async :meth:`send_many`."""
        results: list[SendResult | SendError] = []
        for message in messages:
            try:
                results.append(await self.asend(message))
            except SendError as exc:
                results.append(exc)
        return results

    def close(self) -> None:  # noqa: B027 - a no-op by default, on purpose
        """Release pooled connections. Safe to call more than once."""

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        import asyncio

        await asyncio.to_thread(self.close)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _describe(self) -> str:
        """Where mail goes, for ``repr`` (never a credential)."""
        return ""

    def __repr__(self) -> str:
        where = self._describe()
        suffix = f" {where}" if where else ""
        return f"<{type(self).__name__} name={self.name!r}{suffix}>"


def require_sender(message: Message, owner: str = "") -> Address:
    """The message's sender, or the one :class:`~unisend.InvalidMessage` saying how to set
    it (``owner``, e.g. ``"sendgrid"``, prefixes the text), before any I/O."""
    if message.sender is None:
        prefix = f"{owner}: " if owner else ""
        raise InvalidMessage(
            f"{prefix}the message has no sender; set Message(sender=...) or "
            "Mailer(..., default_sender=...)"
        )
    return message.sender


def require_body(message: Message, owner: str) -> None:
    """The one :class:`~unisend.InvalidMessage` for a template-only message (``template_id``
    without text or html) on a route that renders nothing itself (SMTP, the sandbox)."""
    if message.text is None and message.html is None:
        raise InvalidMessage(
            f"{owner} cannot send a template-only message (template_id without text or "
            "html): nothing renders the template there; add text or html, or use an HTTP "
            "provider that renders templates"
        )


__all__ = ["Transport", "require_body", "require_sender"]
