"""The embedded spool store: one SQLite file in WAL mode.

Durability: ``put`` commits with ``synchronous=FULL`` (the commit is on disk when it
returns). Claims and outcomes commit with ``synchronous=NORMAL``: in WAL mode that
survives a killed process (the WAL is in the OS's hands at commit) and loses only the
latest outcomes on power loss, which at worst sends a message again (at-least-once).
Writers take the lock up front (``BEGIN IMMEDIATE``) and wait up to ``busy_timeout``
for it, so concurrent workers queue instead of failing with "database is locked".
The file is created with mode 0600 and a folder it creates with 0700.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .._errors import ConfigurationError
from ._model import Row
from ._sql_store import INSERT, SQLStore, insert_values
from ._store import SELECT_COLUMNS, row_from

#: Milliseconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_MS = 60_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS unisend_spool (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL,
    last_error TEXT,
    message_id TEXT,
    transport TEXT,
    key TEXT UNIQUE,
    payload TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    lease_until REAL,
    claim_token TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS unisend_spool_due ON unisend_spool (state, next_attempt_at);
"""


def _create_private(path: Path) -> None:
    """Create the folder (0700) and the file (0600) when missing; leave existing ones be."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))


_FINISH = (
    "UPDATE unisend_spool SET state = ?, attempts = ?, next_attempt_at = ?, "
    "last_error = ?, message_id = ?, transport = ?, history = ?, "
    "claim_token = NULL, lease_until = NULL, updated_at = ? "
    "WHERE id = ? AND claim_token = ?"
)


def _finish_values(row: Row, now: float) -> tuple[object, ...]:
    return (
        row.state,
        row.attempts,
        row.next_attempt_at,
        row.last_error,
        row.message_id,
        row.transport,
        row.history,
        now,
        row.id,
        row.claim_token,
    )


class SQLiteStore(SQLStore):
    """A spool in one SQLite file, safe across threads and processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._lock = threading.Lock()
        try:
            _create_private(self.path)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60.0
            )
        except (OSError, sqlite3.Error) as error:
            raise ConfigurationError(
                f"cannot open the spool file {self.location}: {error}; check that its folder "
                "exists and is writable"
            ) from None
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._db.execute("PRAGMA journal_mode = WAL")
            with self._write(durable=True) as db:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise ConfigurationError(
                f"the spool file {self.location} is not a usable unisend spool ({error}): "
                "it may be corrupted or another program's file; move it away or point "
                "UNISEND_SPOOL elsewhere"
            ) from None

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def put(self, rows: Sequence[Row]) -> list[Row]:
        stored: list[Row] = []
        with self._write(durable=True) as db:
            for row in rows:
                if row.key is not None:
                    existing = db.execute(
                        f"SELECT {SELECT_COLUMNS} FROM unisend_spool WHERE key = ?", (row.key,)
                    ).fetchone()
                    if existing is not None:
                        stored.append(row_from(existing))
                        continue
                db.execute(INSERT, insert_values(row))
                stored.append(row)
        return stored

    def claim(self, now: float, limit: int, lease_until: float, token: str) -> list[Row]:
        with self._write() as db:
            found = db.execute(
                f"SELECT {SELECT_COLUMNS} FROM unisend_spool "
                "WHERE (state = 'queued' AND next_attempt_at <= ?) "
                "OR (state = 'sending' AND lease_until <= ?) "
                "ORDER BY next_attempt_at LIMIT ?",
                (now, now, limit),
            ).fetchall()
            rows = [row_from(values) for values in found]
            for row in rows:
                row.reclaimed = row.state == "sending"
                row.state, row.claim_token, row.lease_until = "sending", token, lease_until
            db.executemany(
                "UPDATE unisend_spool SET state = 'sending', claim_token = ?, lease_until = ?, "
                "updated_at = ? WHERE id = ?",
                [(token, lease_until, now, row.id) for row in rows],
            )
        return rows

    def extend(self, ids: Sequence[str], token: str, lease_until: float) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE unisend_spool SET lease_until = ? WHERE id = ? AND claim_token = ?",
                [(lease_until, entry_id, token) for entry_id in ids],
            )

    def finish(self, rows: Sequence[Row], now: float) -> list[bool]:
        written = []
        with self._write() as db:
            for row in rows:
                cursor = db.execute(_FINISH, _finish_values(row, now))
                written.append(cursor.rowcount == 1)
        return written

    def release(self, ids: Sequence[str], token: str) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE unisend_spool SET state = 'queued', claim_token = NULL, "
                "lease_until = NULL WHERE id = ? AND claim_token = ?",
                [(entry_id, token) for entry_id in ids],
            )

    def _execute(self, sql: str, params: Sequence[object]) -> tuple[list[tuple[object, ...]], int]:
        if sql.startswith("SELECT"):
            with self._lock:
                return self._db.execute(sql, params).fetchall(), -1
        with self._write() as db:
            cursor = db.execute(sql, params)
            return cursor.fetchall(), cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


__all__ = ["SQLiteStore"]
