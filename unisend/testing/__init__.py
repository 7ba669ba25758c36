"""Test helpers: capture every message a process sends, and assert on them.

>>> from unisend import Mailer, Message
>>> from unisend.testing import capture_outbox
>>> with capture_outbox() as outbox:
...     _ = Mailer.from_url("smtp://mail.example.com:587").send(
...         Message(sender="a@example.com", to="b@example.com", subject="Hi", text="x"))
>>> outbox.assert_sent(count=1, to="b@example.com")

How it works: while :func:`capture_outbox` is active, every ``Mailer.send`` /
``send_many`` (and the ``AsyncMailer`` twins) in this process delivers to one shared
:class:`~unisend.transports.MemoryTransport`, whatever transport the mailer was built
with and whenever it was built; and ``from_url`` returns that transport, so no
connection is ever opened. The default sender and retry policy of each mailer still
apply. The pytest plugin exposes this as the ``unisend_outbox`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .._errors import SendError
from .events import make_event as make_event

if TYPE_CHECKING:
    from .._message import Address, Message
    from .._result import SendResult
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
    """Route every send in this process to one shared MemoryTransport while active.

    Nests: an inner capture collects its own messages and the outer one resumes after.
    """
    import unisend
    from unisend import _mailer, _url
    from unisend.transports.memory import MemoryTransport

    transport = MemoryTransport(name="memory")
    outbox = Outbox(transport)

    def fake_from_url(url: str) -> MemoryTransport:
        return transport

    def send(self: _mailer.Mailer, message: Message) -> SendResult:
        return transport.deliver(self._prepare(message), self.retry)

    def send_many(
        self: _mailer._BaseMailer, messages: Sequence[Message]
    ) -> list[SendResult | SendError]:
        prepared = [self._prepare(message) for message in messages]
        results: list[SendResult | SendError] = []
        for message in prepared:
            try:
                results.append(transport.deliver(message, self.retry))
            except SendError as exc:
                results.append(exc)
        return results

    async def asend(self: _mailer.AsyncMailer, message: Message) -> SendResult:
        return await transport.adeliver(self._prepare(message), self.retry)

    async def asend_many(
        self: _mailer.AsyncMailer, messages: Sequence[Message]
    ) -> list[SendResult | SendError]:
        return send_many(self, messages)  # the memory transport never blocks

    patches: list[tuple[Any, str, Any]] = [
        (_url, "from_url", fake_from_url),
        (_mailer, "from_url", fake_from_url),
        (unisend, "from_url", fake_from_url),
        (_mailer.Mailer, "send", send),
        (_mailer.Mailer, "send_many", send_many),
        (_mailer.AsyncMailer, "send", asend),
        (_mailer.AsyncMailer, "send_many", asend_many),
    ]
    missing = object()
    saved = [(target, name, target.__dict__.get(name, missing)) for target, name, _ in patches]
    for target, name, value in patches:
        setattr(target, name, value)
    try:
        yield outbox
    finally:
        for target, name, old in reversed(saved):
            if old is missing:
                delattr(target, name)
            else:
                setattr(target, name, old)


__all__ = ["Outbox", "capture_outbox"]
