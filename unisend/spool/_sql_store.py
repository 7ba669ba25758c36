"""What the SQLite and PostgreSQL stores share: the statements that read and look after
entries, written once with ``?`` placeholders over each store's :meth:`SQLStore._execute`."""

from __future__ import annotations

from collections.abc import Sequence

from ._model import STATES, Row
from ._store import SELECT_COLUMNS, row_from

#: Insert a new row (``?`` placeholders; the PostgreSQL store swaps them for ``%s``).
INSERT = (
    "INSERT INTO unisend_spool (id, state, attempts, created_at, next_attempt_at, key, "
    "payload, history, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_values(row: Row) -> tuple[object, ...]:
    """The parameters of :data:`INSERT` for ``row``."""
    return (
        row.id,
        row.state,
        row.attempts,
        row.created_at,
        row.next_attempt_at,
        row.key,
        row.payload,
        row.history,
        row.created_at,
    )


class SQLStore:
    """The store methods whose SQL is the same on both databases."""

    def _execute(self, sql: str, params: Sequence[object]) -> tuple[list[tuple[object, ...]], int]:
        """Run one statement, committed on its own; its rows (if any) and row count."""
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[object]) -> list[Row]:
        return [row_from(values) for values in self._execute(sql, params)[0]]

    def entries(self, state: str | None, limit: int) -> list[Row]:
        where = "" if state is None else "WHERE state = ? "
        params: list[object] = [] if state is None else [state]
        return self._rows(
            f"SELECT {SELECT_COLUMNS} FROM unisend_spool {where}"
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            [*params, limit],
        )

    def get(self, entry_id: str) -> Row | None:
        rows = self._rows(f"SELECT {SELECT_COLUMNS} FROM unisend_spool WHERE id = ?", [entry_id])
        return rows[0] if rows else None

    def requeue(self, entry_id: str, now: float) -> Row | None:
        self._execute(
            "UPDATE unisend_spool SET state = 'queued', next_attempt_at = ?, updated_at = ? "
            "WHERE id = ? AND state = 'failed'",
            (now, now, entry_id),
        )
        return self.get(entry_id)

    def requeue_failed(self, now: float) -> int:
        return self._execute(
            "UPDATE unisend_spool SET state = 'queued', next_attempt_at = ?, updated_at = ? "
            "WHERE state = 'failed'",
            (now, now),
        )[1]

    def purge(self, state: str, before: float) -> int:
        return self._execute(
            "DELETE FROM unisend_spool WHERE state = ? AND updated_at < ?", (state, before)
        )[1]

    def counts(self) -> dict[str, int]:
        found = self._execute("SELECT state, COUNT(*) FROM unisend_spool GROUP BY state", ())[0]
        by_state = {str(state): int(count) for state, count in found}  # type: ignore[call-overload]
        return {state: by_state.get(state, 0) for state in STATES}


__all__ = ["INSERT", "SQLStore", "insert_values"]
