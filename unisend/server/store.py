"""The inbox's access to the sandbox store: the same SQLite file and table as
``sandbox://`` (:mod:`unisend.transports.sandbox`), so both see every message.

Mail received over SMTP is stored with ``route = "smtp"``, its envelope, the subject and
``Message-ID`` read from its headers, and the exact bytes received. One connection,
serialised by a lock; callers on the event loop run these methods in a thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from pathlib import Path

from ..transports._sandbox_schema import BUSY_TIMEOUT, SCHEMA

#: The ``route`` column of messages received over SMTP.
SMTP_ROUTE = "smtp"

_SUMMARY = "id, time, sender, recipients, subject, message_id, route, length(raw) AS size"  # no raw


@dataclass(frozen=True)
class Row:
    """One stored message as the inbox lists it; ``raw`` only when asked for."""

    id: int
    time: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    route: str
    size: int
    raw: bytes | None = None


def header_fields(raw: bytes) -> tuple[int, str, str]:
    """``(number of header fields, subject, Message-ID)`` of a raw message, decoded.

    Reads the header block by hand: the standard library's parser costs ~1 ms per
    message, most of SMTP ingest's time; only the two values shown are decoded.
    """
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    block = raw if end < 0 else raw[:end]
    count = 0
    wanted: dict[bytes, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in block.split(b"\n"):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        count += 1
        name, colon, value = line.partition(b":")
        key = name.strip().lower()
        current = None
        if colon and key in (b"subject", b"message-id") and key not in wanted:
            current = wanted[key] = [value]
    return count, _decoded(wanted, b"subject"), _decoded(wanted, b"message-id")


def _decoded(found: dict[bytes, list[bytes]], key: bytes) -> str:
    if key not in found:
        return ""
    text = b"".join(found[key]).decode("utf-8", "replace").strip()
    if "=?" not in text:
        return text
    try:  # RFC 2047 encoded words, as email.policy.default reads them
        return str(policy.default.header_factory(key.decode(), text)).strip()
    except Exception:  # a malformed header is shown as it is, never fatal
        return text


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Store:
    """The sandbox SQLite file, opened (and created) on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL never corrupts the file; a power cut may lose the last
                # messages, acceptable for a test inbox and ~10x fewer fsyncs on ingest.
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def open(self) -> None:
        """Create the file and its table now (so a bad path fails at start)."""
        with self._lock:
            self._connection()

    def add(self, raw: bytes, sender: str, recipients: Sequence[str]) -> int:
        """Store ``raw`` with its envelope; return the new id."""
        _, subject, message_id = header_fields(raw)
        row = (
            datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            sender,
            "\n".join(recipients),
            subject,
            message_id,
            SMTP_ROUTE,
            raw,
        )
        with self._lock:
            cursor = self._connection().execute(
                "INSERT INTO messages (time, sender, recipients, subject, message_id, route, raw) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def search(self, query: str, limit: int, offset: int) -> tuple[int, list[Row]]:
        """``(total matching, one page newest first)``; ``query`` is a case-insensitive
        substring of the subject, sender or recipients ("" matches all)."""
        where = ""
        args: tuple[str, ...] = ()
        if query:
            pattern = _like(query)
            where = (
                " WHERE subject LIKE ? ESCAPE '\\' OR sender LIKE ? ESCAPE '\\' "
                "OR recipients LIKE ? ESCAPE '\\'"
            )
            args = (pattern, pattern, pattern)
        with self._lock:
            conn = self._connection()
            (total,) = conn.execute(f"SELECT COUNT(*) FROM messages{where}", args).fetchone()
            rows = conn.execute(
                f"SELECT {_SUMMARY} FROM messages{where} ORDER BY id DESC LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return int(total), [_row(r) for r in rows]

    def get(self, id: int) -> Row | None:
        """The message ``id`` with its raw bytes, or None."""
        with self._lock:
            found = (
                self._connection()
                .execute(f"SELECT {_SUMMARY}, raw FROM messages WHERE id = ?", (id,))
                .fetchone()
            )
        return None if found is None else _row(found[:-1], bytes(found[-1]))

    def raw(self, id: int) -> bytes | None:
        """Only the stored bytes of ``id``, or None."""
        with self._lock:
            sql = "SELECT raw FROM messages WHERE id = ?"
            found = self._connection().execute(sql, (id,)).fetchone()
        return None if found is None else bytes(found[0])

    def delete(self, id: int) -> bool:
        """Delete one message; False if there was none."""
        with self._lock:
            cursor = self._connection().execute("DELETE FROM messages WHERE id = ?", (id,))
        return cursor.rowcount > 0

    def delete_all(self) -> int:
        """Delete every message; return how many there were."""
        with self._lock:
            cursor = self._connection().execute("DELETE FROM messages")
        return cursor.rowcount

    def ids_after(self, last: int) -> list[int]:
        """Ids above ``last``, ascending (what arrived since)."""
        with self._lock:
            rows = (
                self._connection()
                .execute("SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT 1000", (last,))
                .fetchall()
            )
        return [int(r[0]) for r in rows]

    def max_id(self) -> int:
        """The highest id ever stored that is still there (0 when empty)."""
        with self._lock:
            (top,) = self._connection().execute("SELECT max(id) FROM messages").fetchone()
        return int(top or 0)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _row(values: Sequence[object], raw: bytes | None = None) -> Row:
    id, time, sender, recipients, subject, message_id, route, size = values
    return Row(
        id=int(id),  # type: ignore[call-overload]
        time=str(time),
        sender=str(sender),
        recipients=tuple(str(recipients).split("\n")) if recipients else (),
        subject=str(subject),
        message_id=str(message_id),
        route=str(route),
        size=int(size),  # type: ignore[call-overload]
        raw=raw,
    )
