"""The storage contract every spool backend keeps (SQLite, PostgreSQL).

Stores are plain data access: no clock, no schedule, no sending. Each method is one
transaction. Claims are exclusive: a row handed to one claimer is not handed to another
until its lease has run out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._model import Row

#: The columns of a row, in the order the stores select them.
COLUMNS = (
    "id",
    "state",
    "attempts",
    "created_at",
    "next_attempt_at",
    "last_error",
    "message_id",
    "transport",
    "key",
    "payload",
    "history",
    "lease_until",
    "claim_token",
)
SELECT_COLUMNS = ", ".join(COLUMNS)


def row_from(values: Sequence[object]) -> Row:
    """A :class:`Row` from a database tuple in :data:`COLUMNS` order."""
    return Row(*values)  # type: ignore[arg-type]


class Store(Protocol):
    """What :class:`~unisend.Spool` needs from a backend."""

    #: Where the store is, for messages (never holds a password).
    location: str

    def put(self, rows: Sequence[Row]) -> list[Row]:
        """Store ``rows`` in one durable transaction; a row whose ``key`` is already stored
        is not stored again: the stored row is returned in its place."""
        ...

    def claim(self, now: float, limit: int, lease_until: float, token: str) -> list[Row]:
        """Claim up to ``limit`` due rows (queued and due, or sending with an expired lease),
        oldest due first; they become ``sending`` under ``token`` until ``lease_until``.
        Rows that were ``sending`` come back with ``reclaimed=True``."""
        ...

    def extend(self, ids: Sequence[str], token: str, lease_until: float) -> None:
        """Push the lease of the rows still claimed under ``token`` to ``lease_until``."""
        ...

    def finish(self, rows: Sequence[Row], now: float) -> list[bool]:
        """Write each row's outcome fields (state, attempts, next_attempt_at, last_error,
        message_id, transport, history) if it is still claimed under its ``claim_token``,
        and release the claim; one transaction for all. False for a row whose claim was
        lost (another worker took it over)."""
        ...

    def release(self, ids: Sequence[str], token: str) -> None:
        """Give back claims not acted on: the rows become ``queued`` as they were."""
        ...

    def entries(self, state: str | None, limit: int) -> list[Row]:
        """Rows, newest first, optionally of one state."""
        ...

    def get(self, entry_id: str) -> Row | None:
        """One row, or None."""
        ...

    def requeue(self, entry_id: str, now: float) -> Row | None:
        """A ``failed`` row becomes ``queued``, due at ``now``; returns it (None if absent)."""
        ...

    def requeue_failed(self, now: float) -> int:
        """Every ``failed`` row becomes ``queued``, due at ``now``; returns how many."""
        ...

    def purge(self, state: str, before: float) -> int:
        """Delete rows of ``state`` last changed before ``before``; returns how many."""
        ...

    def counts(self) -> dict[str, int]:
        """Rows per state (every state present, zero included)."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


__all__ = ["COLUMNS", "SELECT_COLUMNS", "Store", "row_from"]
