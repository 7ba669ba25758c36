"""``SandboxTransport``: the embedded local sandbox, and the default route.

Mail sent to ``sandbox://`` never leaves the machine: each message is rendered to its
RFC 5322 bytes exactly as SMTP would send it and kept in a SQLite file with its
envelope, so it can be listed and read back (``unisend sandbox list``). Where the file
lives, first match wins:

1. the URL path: ``sandbox:///abs/path.sqlite3`` (absolute) or ``sandbox://./rel.sqlite3``
   (relative to the working directory; ``../`` and ``~/`` work too);
2. the ``UNISEND_SANDBOX`` environment variable (a file path);
3. ``./.unisend/sandbox.sqlite3``.

The file is opened on first use; several threads and processes can write to it at
once. It is switched to WAL once, by the first connection that finds it otherwise; each
write is its own ``BEGIN IMMEDIATE`` transaction, which takes the write lock up front
and so waits for it (busy timeout) instead of failing half way with "database is
locked"; and the rare lock conflicts SQLite reports without waiting (while another
connection switches the journal mode or recovers the WAL) are retried until the same
deadline. Only a lock held past it is an error (:class:`~unisend.TransientError`).
"""

from __future__ import annotations

import builtins
import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .._errors import ConfigurationError, ProviderError, TransientError
from .._result import SendResult
from ._sandbox_schema import BUSY_TIMEOUT, DEFAULT_PATH, ENV_VAR, SCHEMA
from .base import Transport, require_body, require_sender

if TYPE_CHECKING:
    from .._message import Address, Message
    from .._url import UrlSpec

logger = logging.getLogger("unisend")

# A writer waits _BUSY_TIMEOUT seconds for another process's lock before giving up
# (TransientError).
_BUSY_TIMEOUT = BUSY_TIMEOUT
# Pause between two tries after a lock conflict SQLite reported without waiting.
_RETRY_PAUSE = 0.02

_T = TypeVar("_T")

_COLUMNS = "id, time, sender, recipients, subject, message_id, route, raw"


@dataclass(frozen=True)
class StoredMessage:
    """One message kept in the sandbox."""

    #: The sandbox's own id (1, 2, 3, ...; never reused, not even after :meth:`clear`).
    id: int
    #: When it was stored, timezone-aware UTC.
    time: datetime
    #: The envelope sender (``MAIL FROM``).
    sender: str
    #: The envelope recipients (``RCPT TO``): to, then cc, then bcc.
    recipients: tuple[str, ...]
    #: The subject as given (not encoded).
    subject: str
    #: The ``Message-ID`` header, angle brackets included.
    message_id: str
    #: ``.name`` of the transport that stored it.
    route: str
    #: The full RFC 5322 message, CRLF line endings, as SMTP would have sent it.
    raw: bytes

    def email(self) -> EmailMessage:
        """:attr:`raw` parsed by the standard library (``email.policy.default``)."""
        parsed = BytesParser(policy=email_policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def __repr__(self) -> str:
        return (
            f"StoredMessage(id={self.id}, time={self.time.isoformat()!r}, "
            f"sender={self.sender!r}, recipients={self.recipients!r}, "
            f"subject={self.subject!r}, raw=<{len(self.raw)} bytes>)"
        )


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The sandbox file for ``path``, else ``$UNISEND_SANDBOX``, else the default.

    Relative paths are made absolute against the current directory now, so a later
    ``chdir`` does not move the store.
    """
    chosen: str | os.PathLike[str] = path or os.environ.get(ENV_VAR) or DEFAULT_PATH
    return Path(chosen).expanduser().absolute()


def _envelope(address: Address, smtputf8: bool) -> str:
    return address.email if smtputf8 else address.ascii_email


def _is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite's "database is locked" / "busy" (another writer)."""
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _prepare(conn: sqlite3.Connection) -> None:
    """WAL and the table, each set up only by a connection that finds it missing: a
    journal mode change needs the file to itself, so doing it on every open would make
    every open a lock conflict."""
    (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    if str(mode).lower() != "wal":
        conn.execute("PRAGMA journal_mode=WAL")
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'"
    ).fetchone()
    if found is None:
        _immediate(conn, lambda: conn.execute(SCHEMA))


def _immediate(conn: sqlite3.Connection, work: Callable[[], _T]) -> _T:
    """Run ``work`` in a ``BEGIN IMMEDIATE`` transaction: the write lock is taken (and
    waited for) before anything is read, so the transaction cannot fail later on a
    snapshot another writer made stale."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


class SandboxTransport(Transport):
    """Keeps every message in a local SQLite file instead of sending it.

    ``SandboxTransport(path=None, *, name=None)``: see the module docs for where the
    file lives. The first send logs one warning (logger ``"unisend"``) saying that mail
    stayed local, and where. Read the store with :meth:`list`, :meth:`get` and
    :meth:`clear`.
    """

    default_name = "sandbox"

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        #: The SQLite file (absolute).
        self.path = resolve_path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._warned = False

    # -- storage ---------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """The open connection (callers hold ``self._lock``)."""
        if self._conn is None:
            # Stored mail may be personal data: a new folder is readable by its owner only.
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # One connection shared by all threads, serialised by self._lock.
            conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            try:
                _prepare(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _run(self, work: Callable[[sqlite3.Connection], _T], *, write: bool) -> _T:
        """``work(connection)`` under ``self._lock`` (in an immediate transaction when it
        writes); a lock conflict is tried again until the busy deadline, and any storage
        failure becomes the classified send error."""
        deadline = time.monotonic() + _BUSY_TIMEOUT
        while True:
            try:
                with self._lock:
                    conn = self._connection()
                    if write:
                        return _immediate(conn, functools.partial(work, conn))
                    return work(conn)
            except sqlite3.Error as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise self._error(exc) from exc
            except OSError as exc:
                raise self._error(exc) from exc
            time.sleep(_RETRY_PAUSE)

    def _error(self, exc: Exception) -> Exception:
        """Classify a storage failure as a send error naming the file."""
        text = f"the sandbox store {self.path} failed: {exc}"
        if isinstance(exc, sqlite3.Error) and _is_busy(exc):
            return TransientError(
                f"{text} (another process held the lock for over {_BUSY_TIMEOUT:g} s)",
                transport=self.name,
            )
        return ProviderError(
            f"{text}; check that the folder is writable, or point UNISEND_SANDBOX elsewhere",
            transport=self.name,
        )

    # -- sending ---------------------------------------------------------------------

    def check(self, message: Message) -> None:
        """Refuse a template-only message: the sandbox stores rendered bytes."""
        require_body(message, "the sandbox")

    def send(self, message: Message) -> SendResult:
        """Render ``message`` and store it; return its ``Message-ID``."""
        from .._mime import render

        sender = require_sender(message)
        smtputf8 = message.needs_smtputf8
        rendered = render(message, smtputf8=smtputf8)
        row = (
            datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            _envelope(sender, smtputf8),
            "\n".join(_envelope(a, smtputf8) for a in message.recipients),
            message.subject,
            rendered.message_id,
            self.name,
            rendered.data,
        )
        self._run(
            lambda conn: conn.execute(
                "INSERT INTO messages (time, sender, recipients, subject, message_id, "
                "route, raw) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            ),
            write=True,
        )
        with self._lock:
            warn, self._warned = not self._warned, True
        if warn:
            logger.warning(
                "mail stayed local: stored in the unisend sandbox at %s "
                "(set UNISEND_URL to send it for real; read it with `unisend sandbox list`)",
                self.path,
            )
        return SendResult(message_id=rendered.message_id, transport=self.name)

    # -- reading ---------------------------------------------------------------------

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> builtins.list[StoredMessage]:
        if not self.path.exists():
            return []  # reading never creates the file
        rows = self._run(lambda conn: conn.execute(sql, args).fetchall(), write=False)
        return [
            StoredMessage(
                id=row[0],
                time=datetime.fromisoformat(row[1]),
                sender=row[2],
                recipients=tuple(row[3].split("\n")) if row[3] else (),
                subject=row[4],
                message_id=row[5],
                route=row[6],
                raw=bytes(row[7]),
            )
            for row in rows
        ]

    def list(self, limit: int | None = 50) -> builtins.list[StoredMessage]:
        """The newest ``limit`` messages, newest first (``limit=None``: all of them)."""
        if limit is not None and limit < 0:
            raise ConfigurationError(f"limit must be zero or more, not {limit}")
        return self._query(
            f"SELECT {_COLUMNS} FROM messages ORDER BY id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )

    def get(self, id: int) -> StoredMessage | None:
        """The message with sandbox id ``id``, or None."""
        found = self._query(f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (id,))
        return found[0] if found else None

    def find(self, message_id: str) -> StoredMessage | None:
        """The newest message whose ``Message-ID`` is ``message_id`` (brackets optional)."""
        wanted = message_id.strip()
        if not wanted.startswith("<"):
            wanted = f"<{wanted}>"
        found = self._query(
            f"SELECT {_COLUMNS} FROM messages WHERE message_id = ? ORDER BY id DESC LIMIT 1",
            (wanted,),
        )
        return found[0] if found else None

    def count(self) -> int:
        """How many messages the sandbox holds."""
        if not self.path.exists():
            return 0
        (total,) = self._run(
            lambda conn: conn.execute("SELECT COUNT(*) FROM messages").fetchone(), write=False
        )
        return int(total)

    def clear(self) -> int:
        """Delete every message; return how many there were."""
        if not self.path.exists():
            return 0
        return self._run(lambda conn: conn.execute("DELETE FROM messages").rowcount, write=True)

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the file; the next use opens it again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _describe(self) -> str:
        return f"path={str(self.path)!r}"


def path_from_spec(spec: UrlSpec) -> str | None:
    """The file a ``sandbox://`` URL names, or None for the default.

    ``sandbox:///abs/file`` is absolute; ``sandbox://./file``, ``sandbox://../file`` and
    ``sandbox://~/file`` are relative to the working or home directory.
    """
    if "path" in spec.query:
        raise ConfigurationError(
            f"{spec.display}: put the file in the URL path, e.g. sandbox:///abs/path.sqlite3, "
            "not in ?path="
        )
    if spec.username or spec.password or spec.port is not None:
        raise ConfigurationError(
            f"{spec.display}: sandbox:// takes no credentials or port; "
            "write sandbox:///abs/path.sqlite3 or sandbox://./relative.sqlite3"
        )
    if spec.host in ("", "localhost"):
        return spec.path or None
    if spec.host in (".", "..", "~"):
        return spec.host + spec.path
    raise ConfigurationError(
        f"{spec.display}: {spec.host!r} is not a sandbox path; write sandbox:///abs/path.sqlite3 "
        "(absolute) or sandbox://./relative.sqlite3 (relative to the working directory)"
    )


def from_spec(spec: UrlSpec) -> SandboxTransport:
    """``sandbox://``, ``sandbox:///abs/path.sqlite3``, ``sandbox://./rel.sqlite3``;
    ``?name=`` sets the route name."""
    return SandboxTransport(path_from_spec(spec), **spec.options(skip=("path",)))


__all__ = ["DEFAULT_PATH", "ENV_VAR", "SandboxTransport", "StoredMessage", "resolve_path"]
