"""The spool: keep what no route accepts now, deliver it later, never lose it.

A delivery pass claims the entries that are due (a lease makes the claim exclusive),
sends them through the caller's mailer (its retry and routing apply; a route's batch
endpoint is used when it has one), and records each outcome: ``sent``; deferred by the
schedule on a transient or route failure; ``failed`` on ``MessageRejected`` or once
``max_age`` has passed. Only what is in flight is claimed, so a worker killed mid-send can
duplicate at most the message (or batch) it had in hand; the next claimer records that
pass as ambiguous.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import (
    AllRoutesFailed,
    ConfigurationError,
    InvalidMessage,
    MessageRejected,
    SendError,
    UnisendError,
)
from .._message import Message
from .._payload import message_from_payload, message_to_payload
from .._result import SendResult
from ._model import Row, SpoolEntry, SpoolReport
from ._store import Store

if TYPE_CHECKING:
    from .._mailer import AsyncMailer, Mailer

logger = logging.getLogger("unisend.spool")

#: Where the spool lives when neither ``location`` nor ``UNISEND_SPOOL`` says.
DEFAULT_LOCATION = Path(".unisend") / "spool.sqlite3"
#: Seconds between attempts: the n-th deferral waits ``schedule[min(n, len) - 1]`` (±10 %).
DEFAULT_SCHEDULE = (60.0, 300.0, 900.0, 1800.0, 3600.0)
#: Four days, RFC 5321 §4.5.4.1's "at least 4-5 days" before giving up.
DEFAULT_MAX_AGE = 345_600.0
_REJECTED_TEXT = "the message was refused"


def open_store(location: str | os.PathLike[str] | None) -> Store:
    """The store for ``location``: a ``postgresql://`` URL, else a SQLite file path."""
    if location is None:
        location = os.environ.get("UNISEND_SPOOL") or DEFAULT_LOCATION
    text = os.fspath(location)
    if not text.strip():
        raise ConfigurationError("the spool location is empty: give a file path or a URL")
    if text.startswith(("postgresql://", "postgres://")):
        from ._postgres import PostgresStore

        return PostgresStore(text)
    scheme_match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if scheme_match and scheme_match.group(1).lower() != "file":
        scheme = scheme_match.group(1)
        raise ConfigurationError(
            f"unknown spool scheme {scheme!r}: use a file path (SQLite) or postgresql://"
        )
    from ._sqlite import SQLiteStore

    return SQLiteStore(text.removeprefix("file://"))


def _new_id(now: float) -> str:
    """Time-ordered, unique across machines: 12 hex digits of milliseconds + 8 random."""
    return f"{int(now * 1000):012x}{uuid.uuid4().hex[:8]}"


def _error_text(error: BaseException) -> str:
    # The library's errors never carry secrets; anything else is reduced to its class.
    if isinstance(error, UnisendError):
        return f"{type(error).__name__}: {error}"[:1000]
    return type(error).__name__


class Spool:
    """A durable queue of messages that no route accepted yet (see DESIGN: the spool).

    ``location``: a SQLite file path (the default, ``UNISEND_SPOOL`` or
    ``./.unisend/spool.sqlite3``) or a ``postgresql://`` URL (extra ``unisend[postgres]``).
    ``schedule``: seconds before each retry; ``max_age``: seconds after which an entry
    that still fails becomes ``failed``; ``lease``: how long a claim holds before another
    worker may take the entry over; ``on_failed(entry)`` is called for each entry that
    becomes ``failed``. ``clock`` (epoch seconds) is injectable for tests.
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        schedule: Sequence[float] = DEFAULT_SCHEDULE,
        max_age: float = DEFAULT_MAX_AGE,
        lease: float = 300.0,
        on_failed: Callable[[SpoolEntry], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not schedule or any(step < 0 for step in schedule):
            raise ConfigurationError("schedule must list one or more non-negative seconds")
        if max_age <= 0 or lease <= 0:
            raise ConfigurationError("max_age and lease must be positive seconds")
        self.schedule = tuple(float(step) for step in schedule)
        self.max_age = float(max_age)
        self.lease = float(lease)
        self.on_failed = on_failed
        self._clock = clock
        self._store = open_store(location)

    @property
    def location(self) -> str:
        """Where the spool is (a file path, or the URL with its password masked)."""
        return self._store.location

    def __repr__(self) -> str:
        return f"Spool({self.location!r})"

    # ------------------------------------------------------------------ putting

    def put(self, message: Message, *, key: str | None = None) -> SpoolEntry:
        """Store ``message`` durably (committed when this returns), due now. A second
        ``put`` with the same ``key`` stores nothing and returns the first entry."""
        return self._put([(message, key)])[0]

    def put_many(self, messages: Sequence[Message]) -> list[SpoolEntry]:
        """Store every message in one transaction; nothing is stored if one is invalid."""
        return self._put([(message, None) for message in messages])

    def _put(self, items: Sequence[tuple[Message, str | None]]) -> list[SpoolEntry]:
        now = self._clock()
        rows = []
        for message, key in items:
            if not isinstance(message, Message):
                raise InvalidMessage(
                    f"Spool.put expects a unisend.Message, got {type(message).__name__}"
                )
            if key is not None and (not isinstance(key, str) or not key):
                raise InvalidMessage("key must be a non-empty string (e.g. an order id)")
            payload = json.dumps(message_to_payload(message), separators=(",", ":"))
            rows.append(
                Row(
                    id=_new_id(now),
                    state="queued",
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                    last_error=None,
                    message_id=None,
                    transport=None,
                    key=key,
                    payload=payload,
                )
            )
        stored = self._store.put(rows)
        # A row stored now keeps its Message; one found by key is rebuilt from the store.
        new_ids = {row.id for row in rows}
        entries = []
        for row, (message, _key) in zip(stored, items, strict=True):
            entries.append(SpoolEntry.from_row(row, message if row.id in new_ids else None))
        return entries

    # ------------------------------------------------------------------ delivering

    def deliver(
        self,
        mailer: Mailer,
        *,
        limit: int | None = None,
        concurrency: int = 1,
        stop: threading.Event | None = None,
    ) -> SpoolReport:
        """One pass over the due entries through ``mailer``; returns what became of them.

        ``concurrency`` messages are claimed and in flight at a time (one by default); a
        route with a batch endpoint gets a batch instead. With ``stop`` set between two
        rounds, the pass ends early.
        """
        report = SpoolReport()
        size = self._round_size(mailer, concurrency)
        while limit is None or report.total < limit:
            if stop is not None and stop.is_set():
                break
            want = size if limit is None else min(size, limit - report.total)
            claimed = self._claim(want)
            if not claimed:
                break
            messages = self._decode(claimed, report)
            if messages:
                outcomes = _send_now(mailer, [m for _row, m in messages], concurrency)
                self._record_all(messages, outcomes, report)
        return report

    async def adeliver(
        self,
        mailer: AsyncMailer,
        *,
        limit: int | None = None,
        concurrency: int = 1,
        stop: asyncio.Event | None = None,
    ) -> SpoolReport:
        """Async :meth:`deliver`; the store's work runs in a thread, off the event loop."""
        report = SpoolReport()
        size = self._round_size(mailer, concurrency)
        while limit is None or report.total < limit:
            if stop is not None and stop.is_set():
                break
            want = size if limit is None else min(size, limit - report.total)
            claimed = await asyncio.to_thread(self._claim, want)
            if not claimed:
                break
            messages = self._decode(claimed, report)
            if messages:
                outcomes = await _asend_now(mailer, [m for _row, m in messages], concurrency)
                await asyncio.to_thread(self._record_all, messages, outcomes, report)
        return report

    def run(
        self,
        mailer: Mailer,
        *,
        stop: threading.Event | None = None,
        poll: float = 1.0,
        concurrency: int = 1,
        on_pass: Callable[[SpoolReport], Any] | None = None,
    ) -> None:
        """Deliver passes until ``stop`` is set, waiting ``poll`` seconds when nothing is due."""
        stop = stop or threading.Event()
        while not stop.is_set():
            report = self.deliver(mailer, concurrency=concurrency, stop=stop)
            if on_pass is not None:
                on_pass(report)
            if report.total == 0:
                stop.wait(poll)

    async def arun(
        self,
        mailer: AsyncMailer,
        *,
        stop: asyncio.Event | None = None,
        poll: float = 1.0,
        concurrency: int = 1,
    ) -> None:
        """Async :meth:`run`."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            report = await self.adeliver(mailer, concurrency=concurrency, stop=stop)
            if report.total == 0:
                try:
                    await asyncio.wait_for(stop.wait(), poll)
                except asyncio.TimeoutError:
                    pass

    @staticmethod
    def _round_size(mailer: Mailer | AsyncMailer, concurrency: int) -> int:
        from .._bulk import batch_limit

        if concurrency < 1:
            raise ConfigurationError("concurrency must be 1 or more")
        return max(batch_limit(mailer.transport), concurrency)

    def _claim(self, want: int) -> list[Row]:
        now = self._clock()
        token = uuid.uuid4().hex
        rows = self._store.claim(now, want, now + self.lease, token)
        for row in rows:
            row.claim_token = token
        return rows

    def _decode(self, claimed: list[Row], report: SpoolReport) -> list[tuple[Row, Message]]:
        decoded = []
        for row in claimed:
            if row.reclaimed:
                row.attempts += 1
                self._note(
                    row,
                    outcome="ambiguous",
                    transport=row.transport,
                    error="a worker stopped mid-send: the message may have been sent",
                    ambiguous=True,
                )
            try:
                decoded.append((row, message_from_payload(json.loads(row.payload))))
            except (ValueError, InvalidMessage) as error:
                unreadable = InvalidMessage(f"stored message unreadable: {error}")
                self._record([(row, unreadable)], report)
        return decoded

    def _note(self, row: Row, **record: Any) -> None:
        history = json.loads(row.history or "[]")
        at = datetime.fromtimestamp(self._clock(), tz=timezone.utc).isoformat()
        history.append({"at": at, **record})
        row.history = json.dumps(history[-50:])

    def _record_all(
        self,
        messages: list[tuple[Row, Message]],
        outcomes: Sequence[SendResult | BaseException],
        report: SpoolReport,
    ) -> None:
        pairs = [(row, outcome) for (row, _m), outcome in zip(messages, outcomes, strict=True)]
        self._record(pairs, report)

    def _record(
        self, pairs: Sequence[tuple[Row, SendResult | BaseException]], report: SpoolReport
    ) -> None:
        """Apply each outcome to its row and write them all in one transaction."""
        now = self._clock()
        for row, outcome in pairs:
            self._apply(row, outcome, report, now)
        rows = [row for row, _outcome in pairs]
        for row, written in zip(rows, self._store.finish(rows, now), strict=True):
            if not written:
                logger.warning(
                    "spool entry %s: the claim ran out before the outcome was written; "
                    "another worker owns it now",
                    row.id,
                )
            elif row.state == "failed":
                self._failed(row)

    def _apply(
        self, row: Row, outcome: SendResult | BaseException, report: SpoolReport, now: float
    ) -> None:
        row.attempts += 1
        if isinstance(outcome, SendResult):
            row.state, row.next_attempt_at, row.last_error = "sent", None, None
            row.message_id, row.transport = outcome.message_id, outcome.transport
            ambiguous = any(a.ambiguous for a in outcome.attempts)
            self._note(row, outcome="sent", transport=outcome.transport, ambiguous=ambiguous)
            report.sent += 1
            logger.info("spool entry %s sent via %s", row.id, outcome.transport)
            return
        row.last_error = _error_text(outcome)
        final = _is_final(outcome)
        too_old = now - row.created_at >= self.max_age
        if final or too_old:
            row.state, row.next_attempt_at = "failed", None
            if too_old and not final:
                row.last_error = f"gave up after {self.max_age:g} s: {row.last_error}"
            report.failed += 1
        else:
            step = self.schedule[min(row.attempts, len(self.schedule)) - 1]
            row.state = "queued"
            row.next_attempt_at = now + step * random.uniform(0.9, 1.1)
            report.deferred += 1
        self._note(
            row,
            outcome=row.state if row.state == "failed" else "deferred",
            transport=getattr(outcome, "transport", None),
            error=row.last_error,
            ambiguous=any(getattr(a, "ambiguous", False) for a in _attempts(outcome)),
        )
        logger.info(
            "spool entry %s %s (%s)",
            row.id,
            "failed" if row.state == "failed" else "deferred",
            type(outcome).__name__,
        )

    def _failed(self, row: Row) -> None:
        logger.warning(
            "spool entry %s failed after %d attempt(s): %s", row.id, row.attempts, row.last_error
        )
        if self.on_failed is None:
            return
        try:
            self.on_failed(SpoolEntry.from_row(row))
        except Exception:
            logger.exception("the spool's on_failed hook raised (entry %s)", row.id)

    # ------------------------------------------------------------------ looking after it

    def entries(self, state: str | None = None, limit: int = 100) -> list[SpoolEntry]:
        """Entries, newest first, optionally of one ``state``."""
        _check_state(state)
        return [SpoolEntry.from_row(row) for row in self._store.entries(state, limit)]

    def get(self, entry_id: str) -> SpoolEntry | None:
        """The entry with this id, or None."""
        row = self._store.get(entry_id)
        return None if row is None else SpoolEntry.from_row(row)

    def retry(self, entry_id: str) -> SpoolEntry:
        """Queue a ``failed`` entry again, due now."""
        row = self._store.requeue(entry_id, self._clock())
        if row is None:
            raise ConfigurationError(f"no spool entry {entry_id!r} in {self.location}")
        if row.state != "queued":
            raise ConfigurationError(
                f"spool entry {entry_id} is {row.state}; only a failed entry can be retried"
            )
        return SpoolEntry.from_row(row)

    def retry_failed(self) -> int:
        """Queue every ``failed`` entry again, due now; returns how many."""
        return self._store.requeue_failed(self._clock())

    def purge(self, *, state: str = "sent", older_than: float = 0.0) -> int:
        """Delete ``state`` entries last changed more than ``older_than`` seconds ago."""
        _check_state(state)
        if state == "sending":
            raise ConfigurationError("entries being sent cannot be purged")
        return self._store.purge(state, self._clock() - older_than)

    def counts(self) -> dict[str, int]:
        """Entries per state: ``{"queued", "sending", "sent", "failed"}``."""
        return self._store.counts()

    def close(self) -> None:
        """Close the store's connection."""
        self._store.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_state(state: str | None) -> None:
    if state is not None and state not in ("queued", "sending", "sent", "failed"):
        raise ConfigurationError(
            f"unknown spool state {state!r}: use queued, sending, sent or failed"
        )


def _attempts(error: BaseException) -> Sequence[Any]:
    return tuple(getattr(error, "attempts", ()) or ())


def _is_final(error: BaseException) -> bool:
    """True when sending again cannot help: the message itself was refused."""
    if isinstance(error, (MessageRejected, InvalidMessage)):
        return True
    if isinstance(error, AllRoutesFailed):
        return any(isinstance(e, MessageRejected) for e in error.errors)
    return not isinstance(error, SendError)


def _send_now(
    mailer: Mailer, messages: list[Message], concurrency: int
) -> list[SendResult | BaseException]:
    """Send through ``mailer`` without spooling again; one outcome per message, in order."""
    try:
        return list(mailer._send_many_now(messages, concurrency))
    except InvalidMessage:
        # One unsendable message (e.g. no sender, and the worker has no default_sender)
        # must not hold back the others: send them one by one to find it.
        outcomes: list[SendResult | BaseException] = []
        for message in messages:
            try:
                outcomes.append(mailer._send_now(mailer._prepare(message)))
            except (SendError, InvalidMessage) as error:
                outcomes.append(error)
        return outcomes


async def _asend_now(
    mailer: AsyncMailer, messages: list[Message], concurrency: int
) -> list[SendResult | BaseException]:
    """Async :func:`_send_now`."""
    try:
        return list(await mailer._send_many_now(messages, concurrency))
    except InvalidMessage:
        outcomes: list[SendResult | BaseException] = []
        for message in messages:
            try:
                outcomes.append(await mailer._send_now(mailer._prepare(message)))
            except (SendError, InvalidMessage) as error:
                outcomes.append(error)
        return outcomes


__all__ = ["DEFAULT_LOCATION", "Spool", "open_store"]
