"""What the spool hands out: :class:`SpoolEntry`, :class:`SpoolReport`, and the stored row."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from .._message import Message
from .._payload import message_from_payload

#: The states an entry moves through: queued -> sending -> sent | failed (or back to queued).
State = Literal["queued", "sending", "sent", "failed"]
STATES: tuple[State, ...] = ("queued", "sending", "sent", "failed")


@dataclass
class Row:
    """One stored entry as the stores read and write it (times are epoch seconds)."""

    id: str
    state: str
    attempts: int
    created_at: float
    next_attempt_at: float | None
    last_error: str | None
    message_id: str | None
    transport: str | None
    key: str | None
    payload: str
    history: str = "[]"
    lease_until: float | None = None
    claim_token: str | None = None
    #: Set by a claim: the entry was ``sending`` under a lease that ran out (a worker died).
    reclaimed: bool = False


def _utc(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)


@dataclass(frozen=True)
class SpoolEntry:
    """One message in the spool and where it stands.

    ``state`` is ``"queued"`` (due at ``next_attempt_at``), ``"sending"`` (claimed by a
    worker), ``"sent"`` or ``"failed"``; ``attempts`` counts delivery passes, including
    the ambiguous ones of a worker that died mid-send; ``last_error`` never holds a secret.
    ``history`` lists one record per pass: ``{"at", "outcome", "transport", "error",
    "ambiguous"}``.
    """

    id: str
    state: State
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_error: str | None
    message_id: str | None
    transport: str | None
    key: str | None
    message: Message = field(repr=False)
    history: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @classmethod
    def from_row(cls, row: Row, message: Message | None = None) -> SpoolEntry:
        """The public view of a stored row (the message is rebuilt from its JSON form
        unless the caller has it at hand)."""
        created = _utc(row.created_at)
        assert created is not None
        final = row.state in ("sent", "failed")
        return cls(
            id=row.id,
            state=row.state,  # type: ignore[arg-type]
            attempts=row.attempts,
            created_at=created,
            next_attempt_at=None if final else _utc(row.next_attempt_at),
            last_error=row.last_error,
            message_id=row.message_id,
            transport=row.transport,
            key=row.key,
            message=message or message_from_payload(json.loads(row.payload)),
            history=tuple(json.loads(row.history or "[]")),
        )


@dataclass
class SpoolReport:
    """Counts of one delivery pass: entries that became ``sent``, were deferred, or ``failed``."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0

    def add(self, other: SpoolReport) -> None:
        """Add ``other``'s counts to these."""
        self.sent += other.sent
        self.deferred += other.deferred
        self.failed += other.failed

    @property
    def total(self) -> int:
        """Entries this pass handled."""
        return self.sent + self.deferred + self.failed


__all__ = ["STATES", "Row", "SpoolEntry", "SpoolReport", "State"]
