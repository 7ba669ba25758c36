"""The connection pool: at most ``size`` open SMTP connections to one server, shared by
threads, each recycled after ``max_messages`` and replaced once idle too long.

The pool knows nothing of SMTP itself: it is given an ``opener`` (connect, EHLO,
STARTTLS, AUTH) and a ``quitter`` (QUIT politely) by the transport.
"""

from __future__ import annotations

import logging
import select
import smtplib
import threading
import time
from collections.abc import Callable

log = logging.getLogger("unisend.smtp")


class PoolTimeout(Exception):
    """No connection became free within ``pool_timeout``."""


class Pooled:
    """One pooled connection and its bookkeeping."""

    __slots__ = ("broken", "generation", "last_used", "messages", "smtp")

    def __init__(self, smtp: smtplib.SMTP, generation: int, now: float) -> None:
        self.smtp = smtp
        #: The pool's generation when this connection was opened; close() moves it on.
        self.generation = generation
        self.last_used = now
        #: Transactions started (MAIL FROM sent) on this connection.
        self.messages = 0
        #: Set when the connection must not be used again (socket already closed).
        self.broken = False

    def drop(self) -> None:
        """Close the socket without QUIT and mark the connection unusable."""
        self.broken = True
        self.smtp.close()

    def looks_dropped(self) -> bool:
        """True when the server has sent something (a 421, or EOF) while the
        connection sat idle: it is no longer in a clean state."""
        sock = self.smtp.sock
        if sock is None:
            return True
        try:
            if hasattr(select, "poll"):
                poller = select.poll()
                poller.register(sock, select.POLLIN)
                return bool(poller.poll(0))
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable)
        except (OSError, ValueError):
            return True


class Pool:
    """Connections to one server, shared by threads: at most ``size`` open at once.

    ``checkout`` hands out an idle connection (most recently used first), opens a new one
    while fewer than ``size`` exist, or waits for one to be checked in. Opening, QUIT and
    closing happen outside the lock. ``close`` QUITs the idle connections and moves the
    generation on, so that connections in use are QUIT when they come back.
    """

    def __init__(
        self,
        size: int,
        max_messages: int,
        idle_timeout: float,
        opener: Callable[[], smtplib.SMTP],
        quitter: Callable[[smtplib.SMTP], None],
    ) -> None:
        self.size = size
        self.max_messages = max_messages
        self.idle_timeout = idle_timeout
        #: Monotonic clock for idle ages; replaceable in tests.
        self.clock: Callable[[], float] = time.monotonic
        self._opener = opener
        self._quitter = quitter
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[Pooled] = []
        self._count = 0  # connections open or being opened, idle or in use
        self._generation = 0

    @property
    def open_connections(self) -> int:
        """Connections open (or being opened) right now, idle or in use."""
        with self._cond:
            return self._count

    def checkout(self, wait: float, *, fresh: bool = False) -> tuple[Pooled, bool]:
        """A connection and whether it was reused (False: opened just now).

        ``fresh=True`` never hands out an idle connection: it opens a new one (in place
        of an idle one when the pool is full). Raises :class:`PoolTimeout` after
        ``wait`` seconds without a free slot, or the opener's error.
        """
        deadline = time.monotonic() + wait
        with self._cond:
            while not self._idle and self._count >= self.size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PoolTimeout
                self._cond.wait(remaining)
            if self._idle and not (fresh and self._count < self.size):
                pooled: Pooled | None = self._idle.pop()
            else:
                pooled = None
                self._count += 1
            generation = self._generation
        if pooled is not None:
            if not fresh and pooled.smtp.sock is not None:
                idle_for = self.clock() - pooled.last_used
                if idle_for <= self.idle_timeout and not pooled.looks_dropped():
                    return pooled, True
                log.debug("replacing a connection idle for %.1fs", idle_for)
            self._retire(pooled)  # its slot is kept for the new connection
        try:
            smtp = self._opener()
        except BaseException:
            self._release_slot()
            raise
        return Pooled(smtp, generation, self.clock()), False

    def checkin(self, pooled: Pooled) -> None:
        """Return a connection: kept for reuse, or closed when broken, worn out
        (``max_messages``) or opened before the last ``close()``."""
        pooled.last_used = self.clock()
        if not pooled.broken and pooled.messages < self.max_messages:
            with self._cond:
                if pooled.generation == self._generation:
                    self._idle.append(pooled)
                    self._cond.notify()
                    return
        self._retire(pooled)
        self._release_slot()

    def close(self) -> None:
        """QUIT every idle connection; those in use are QUIT when checked in."""
        with self._cond:
            self._generation += 1
            idle, self._idle = self._idle, []
        for pooled in idle:
            self._retire(pooled)
        with self._cond:
            self._count -= len(idle)
            self._cond.notify_all()

    def _retire(self, pooled: Pooled) -> None:
        if pooled.broken or pooled.looks_dropped():
            pooled.drop()
        else:
            self._quitter(pooled.smtp)

    def _release_slot(self) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify()


__all__ = ["Pool", "PoolTimeout", "Pooled"]
