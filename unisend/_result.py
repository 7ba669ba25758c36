"""What a send returns: :class:`SendResult` and the :class:`Attempt` trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._errors import SendError


@dataclass(frozen=True)
class Attempt:
    """One try of one route."""

    #: ``.name`` of the route that was tried.
    transport: str
    #: The error of this try, or None when it succeeded.
    error: SendError | None
    #: Seconds the try took (monotonic clock).
    elapsed: float
    #: True when the provider may have accepted the message although the try failed.
    ambiguous: bool = False


@dataclass(frozen=True)
class SendResult:
    """An accepted message.

    ``message_id`` is the provider's id (for SMTP, the ``Message-ID`` header, angle
    brackets included); ``rejected`` maps recipients refused while others were accepted
    to the reason; ``recipient_ids`` keeps per-recipient ids where the provider gives them.
    """

    message_id: str | None
    transport: str
    rejected: dict[str, str] = field(default_factory=dict)
    attempts: tuple[Attempt, ...] = ()
    recipient_ids: dict[str, str] = field(default_factory=dict)
    #: True when no route accepted the message now and it was queued in the mailer's spool.
    queued: bool = False
    #: The spool entry's id when ``queued``.
    spool_id: str | None = None


__all__ = ["Attempt", "SendResult"]
