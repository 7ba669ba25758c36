"""``MemoryTransport``: keeps messages in ``.outbox`` (for users' tests)."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING

from .._result import SendResult
from .base import Transport

if TYPE_CHECKING:
    from .._message import Message
    from .._url import UrlSpec


class MemoryTransport(Transport):
    """Accepts every message and appends it to :attr:`outbox`."""

    default_name = "memory"

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        #: Every message sent, in order.
        self.outbox: list[Message] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> SendResult:
        """Keep ``message`` in :attr:`outbox` and return a made-up id."""
        with self._lock:
            self.outbox.append(message)
        return SendResult(message_id=f"<{uuid.uuid4().hex}@unisend.memory>", transport=self.name)

    async def asend(self, message: Message) -> SendResult:
        """Same as :meth:`send`; nothing blocks."""
        return self.send(message)

    def clear(self) -> None:
        """Empty the outbox."""
        with self._lock:
            self.outbox.clear()


def from_spec(spec: UrlSpec) -> MemoryTransport:
    """``memory://``"""
    return MemoryTransport(**spec.options())


__all__ = ["MemoryTransport"]
