"""The spool on PostgreSQL (extra ``unisend[postgres]``, psycopg 3): for several workers
on several machines.

Table ``unisend_spool``, created when missing. Claims use ``SELECT ... FOR UPDATE SKIP
LOCKED``, so concurrent workers each take different rows without waiting on each other.
Every write is one committed transaction, most of them one statement (one round trip).
``put`` waits for the commit to be flushed (``synchronous_commit = on``); claims and
outcomes commit with ``synchronous_commit = off``, as the SQLite store uses
``synchronous=NORMAL``: a killed worker loses nothing, and a server crash can lose only
the latest outcomes, which at worst sends a message again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .._errors import ConfigurationError
from .._redact import redact_url
from ._model import Row
from ._sql_store import INSERT, SQLStore, insert_values
from ._sqlite import _FINISH, _finish_values
from ._store import COLUMNS, SELECT_COLUMNS, row_from

_SCHEMA = """
CREATE TABLE IF NOT EXISTS unisend_spool (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    next_attempt_at DOUBLE PRECISION,
    last_error TEXT,
    message_id TEXT,
    transport TEXT,
    key TEXT UNIQUE,
    payload TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    lease_until DOUBLE PRECISION,
    claim_token TEXT,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS unisend_spool_due ON unisend_spool (state, next_attempt_at)
"""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(
            "a postgresql:// spool needs psycopg: pip install 'unisend[postgres]'"
        ) from None
    return psycopg


class PostgresStore(SQLStore):
    """A spool in a PostgreSQL table, shared by workers on any number of machines."""

    def __init__(self, url: str) -> None:
        psycopg = _psycopg()
        self.location = redact_url(url)
        self._lock = threading.Lock()
        try:
            self._db = psycopg.connect(url, autocommit=True)
            self._db.execute("SET synchronous_commit TO OFF")
            with self._write() as cursor:
                # Concurrent first starts would race on CREATE TABLE IF NOT EXISTS.
                cursor.execute("SELECT pg_advisory_xact_lock(74231)")
                for statement in _SCHEMA.split(";"):
                    cursor.execute(statement)
        except psycopg.Error as error:
            raise ConfigurationError(
                f"cannot open the spool at {self.location}: {type(error).__name__}: "
                f"{str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            ) from None

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A transaction whose commit is flushed to disk before it returns."""
        with self._lock, self._db.transaction(), self._db.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO ON")
            yield cursor

    @contextmanager
    def _statement(self) -> Iterator[Any]:
        """One statement, committed on its own (``synchronous_commit = off``)."""
        with self._lock, self._db.cursor() as cursor:
            yield cursor

    def put(self, rows: Sequence[Row]) -> list[Row]:
        stored: list[Row] = []
        with self._write() as cursor:
            for row in rows:
                cursor.execute(
                    INSERT.replace("?", "%s") + " ON CONFLICT (key) DO NOTHING RETURNING id",
                    insert_values(row),
                )
                if cursor.fetchone() is not None:
                    stored.append(row)
                    continue
                cursor.execute(
                    f"SELECT {SELECT_COLUMNS} FROM unisend_spool WHERE key = %s", (row.key,)
                )
                stored.append(row_from(cursor.fetchone()))
        return stored

    def claim(self, now: float, limit: int, lease_until: float, token: str) -> list[Row]:
        with self._statement() as cursor:
            cursor.execute(
                "WITH due AS (SELECT id, state AS old_state FROM unisend_spool "
                "WHERE (state = 'queued' AND next_attempt_at <= %s) "
                "OR (state = 'sending' AND lease_until <= %s) "
                "ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED) "
                "UPDATE unisend_spool AS s SET state = 'sending', claim_token = %s, "
                "lease_until = %s, updated_at = %s FROM due WHERE s.id = due.id "
                f"RETURNING {', '.join('s.' + c for c in COLUMNS)}, due.old_state",
                (now, now, limit, token, lease_until, now),
            )
            found = cursor.fetchall()
        rows = []
        for values in found:
            row = row_from(values[:-1])
            row.reclaimed = values[-1] == "sending"
            rows.append(row)
        rows.sort(key=lambda row: (row.next_attempt_at or 0.0, row.id))
        return rows

    def extend(self, ids: Sequence[str], token: str, lease_until: float) -> None:
        with self._statement() as cursor:
            cursor.execute(
                "UPDATE unisend_spool SET lease_until = %s WHERE id = ANY(%s) AND claim_token = %s",
                (lease_until, list(ids), token),
            )

    def finish(self, rows: Sequence[Row], now: float) -> list[bool]:
        sql = _FINISH.replace("?", "%s")
        if len(rows) == 1:
            with self._statement() as cursor:
                cursor.execute(sql, _finish_values(rows[0], now))
                return [cursor.rowcount == 1]
        written = []
        with self._lock, self._db.transaction(), self._db.cursor() as cursor:
            for row in rows:
                cursor.execute(sql, _finish_values(row, now))
                written.append(cursor.rowcount == 1)
        return written

    def release(self, ids: Sequence[str], token: str) -> None:
        with self._statement() as cursor:
            cursor.execute(
                "UPDATE unisend_spool SET state = 'queued', claim_token = NULL, "
                "lease_until = NULL WHERE id = ANY(%s) AND claim_token = %s",
                (list(ids), token),
            )

    def _execute(self, sql: str, params: Sequence[object]) -> tuple[list[tuple[object, ...]], int]:
        with self._statement() as cursor:
            cursor.execute(sql.replace("?", "%s"), params)
            rows = cursor.fetchall() if cursor.description else []
            return rows, int(cursor.rowcount)

    def close(self) -> None:
        with self._lock:
            self._db.close()


__all__ = ["PostgresStore"]
