"""Test helpers: capture every message a process sends, and assert on them.

>>> from unisend import Mailer, Message
>>> from unisend.testing import capture_outbox
>>> with capture_outbox() as outbox:
...     _ = Mailer.from_url("smtp://mail.example.com:587").send(
...         Message(sender="a@example.com", to="b@example.com", subject="Hi", text="x"))
>>> outbox.assert_sent(count=1, to="b@example.com")

How it works: while :func:`capture_outbox` is active, every ``Mailer.send`` /
``send_many`` (and the ``AsyncMailer`` twins) delivers to one shared
:class:`~unisend.transports.MemoryTransport`, whatever transport the mailer was built
with and whenever it was built, so no connection is ever opened. Nothing is patched:
the mailers read the route from a context variable (``unisend._mailer.ROUTE_OVERRIDE``)
that the capture sets, so it holds in this thread and in the asyncio tasks and
``asyncio.to_thread`` calls started from it. The default sender, retry policy and the
checks of ``send_many`` still apply. The pytest plugin exposes this as the
``unisend_outbox`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .events import make_event as make_event

if TYPE_CHECKING:
    from .._message import Address, Message
    from ..transports.memory import MemoryTransport


def _emails(addresses: Sequence[Address]) -> list[str]:
    return [address.email.lower() for address in addresses]


class Outbox:
    """The messages captured by :func:`capture_outbox`, in send order.

    ``len(outbox)``, iteration and indexing work as on a list; :meth:`find` filters and
    :meth:`assert_sent` checks.
    """

    def __init__(self, transport: MemoryTransport) -> None:
        #: The shared transport every send goes to while capturing.
        self.transport = transport

    @property
    def messages(self) -> list[Message]:
        """A copy of the captured messages."""
        return list(self.transport.outbox)

    def __len__(self) -> int:
        return len(self.transport.outbox)

    def __iter__(self) -> Iterator[Message]:
        return iter(self.messages)

    def __getitem__(self, index: int) -> Message:
        return self.transport.outbox[index]

    def clear(self) -> None:
        """Forget the messages captured so far."""
        self.transport.clear()

    def find(
        self,
        *,
        to: str | None = None,
        subject: str | None = None,
        sender: str | None = None,
        contains: str | None = None,
    ) -> list[Message]:
        """The captured messages matching every filter given.

        ``to`` matches any envelope recipient (to, cc or bcc) by address, case-blind;
        ``subject`` is an exact match; ``sender`` matches the sender's address;
        ``contains`` is a substring of the text or html body.
        """
        found = []
        for message in self.messages:
            if to is not None and to.lower() not in _emails(message.recipients):
                continue
            if subject is not None and message.subject != subject:
                continue
            if sender is not None and (
                message.sender is None or message.sender.email.lower() != sender.lower()
            ):
                continue
            if contains is not None and not any(
                contains in body for body in (message.text, message.html) if body
            ):
                continue
            found.append(message)
        return found

    def assert_sent(
        self,
        count: int | None = None,
        *,
        to: str | None = None,
        subject: str | None = None,
        sender: str | None = None,
        contains: str | None = None,
    ) -> list[Message]:
        """Assert that messages matching the filters were sent, exactly ``count`` of them
        if given (else at least one); return them.

        ``outbox.assert_sent(count=0)`` asserts that nothing was sent.
        """
        found = self.find(to=to, subject=subject, sender=sender, contains=contains)
        filters = {
            k: v
            for k, v in {
                "to": to,
                "subject": subject,
                "sender": sender,
                "contains": contains,
            }.items()
            if v is not None
        }
        wanted = f" matching {filters}" if filters else ""
        if count is None and not found:
            raise AssertionError(f"no message{wanted} was sent; sent: {self._summary()}")
        if count is not None and len(found) != count:
            raise AssertionError(
                f"expected {count} message(s){wanted}, found {len(found)}; sent: {self._summary()}"
            )
        return found

    def _summary(self) -> str:
        if not self.transport.outbox:
            return "nothing"
        return ", ".join(
            f"{m.subject!r} to {[a.email for a in m.recipients]}" for m in self.transport.outbox
        )

    def __repr__(self) -> str:
        return f"<Outbox {len(self)} message(s)>"


@contextmanager
def capture_outbox() -> Iterator[Outbox]:
    """Route every mailer's sends to one shared MemoryTransport while active.

    Nests: an inner capture collects its own messages and the outer one resumes after.
    """
    from unisend._mailer import ROUTE_OVERRIDE
    from unisend.transports.memory import MemoryTransport

    transport = MemoryTransport(name="memory")
    token = ROUTE_OVERRIDE.set(transport)
    try:
        yield Outbox(transport)
    finally:
        ROUTE_OVERRIDE.reset(token)


__all__ = ["Outbox", "capture_outbox"]
