"""Run ``unisend sandbox serve`` for tests, and read what it received.

>>> with InboxServer.start() as inbox:                     # doctest: +SKIP
...     smtplib.SMTP(inbox.smtp_host, inbox.smtp_port).sendmail(...)
...     message = inbox.wait_for(subject="Welcome", to="bob@example.com")

The server is a subprocess on free loopback ports over its own store (a temporary file
unless ``path`` is given); it needs ``unisend[server]``. The pytest plugin offers it as
the ``unisend_inbox`` fixture (one server per test session, emptied before each test).
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

_SMTP = re.compile(r"SMTP\s+(\S+):(\d+)\s")
_WEB = re.compile(r"Web\s+(http://\S+?)/?$", re.MULTILINE)


class InboxServer:
    """A running inbox: where to send (:attr:`smtp_host`, :attr:`smtp_port`) and where to
    look (:attr:`url`, :meth:`messages`, :meth:`wait_for`)."""

    def __init__(
        self, process: subprocess.Popen[bytes], banner: str, path: Path, folder: Any
    ) -> None:
        smtp, web = _SMTP.search(banner), _WEB.search(banner)
        if smtp is None or web is None:  # pragma: no cover - the banner is ours
            raise RuntimeError(f"unexpected banner from unisend sandbox serve: {banner!r}")
        #: The SMTP host and port to point the code under test at.
        self.smtp_host, self.smtp_port = smtp.group(1), int(smtp.group(2))
        #: The web inbox and API, e.g. ``http://127.0.0.1:41234``.
        self.url = web.group(1)
        #: The store file.
        self.path = path
        self._process = process
        self._folder = folder
        self._http = httpx.Client(base_url=self.url, timeout=10.0, trust_env=False)

    @classmethod
    def start(cls, path: str | os.PathLike[str] | None = None, *args: str) -> InboxServer:
        """Start a server (extra command-line ``args``, e.g. ``"--tls"``); wait until ready."""
        folder = None
        if path is None:
            folder = tempfile.TemporaryDirectory(prefix="unisend-inbox-")
            path = Path(folder.name) / "sandbox.sqlite3"
        command = [sys.executable, "-m", "unisend", "sandbox", "serve", "--path", str(path)]
        command += ["--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", *args]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        banner, deadline = "", time.monotonic() + 30
        while "Press Ctrl-C" not in banner:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, err = process.communicate()
                if folder is not None:
                    folder.cleanup()
                raise RuntimeError(f"unisend sandbox serve did not start: {err.decode().strip()}")
            if selector.select(0.05):
                banner += os.read(process.stdout.fileno(), 65536).decode()
        selector.close()
        return cls(process, banner, Path(path), folder)

    def messages(self, q: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` messages (the list fields), newest first."""
        response = self._http.get("/api/messages", params={"q": q, "limit": limit})
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["messages"]
        return found

    def message(self, id: int) -> dict[str, Any]:
        """One message with headers, text, html and attachments."""
        response = self._http.get(f"/api/messages/{id}")
        response.raise_for_status()
        detail: dict[str, Any] = response.json()
        return detail

    def raw(self, id: int) -> bytes:
        """The stored bytes of one message."""
        response = self._http.get(f"/api/messages/{id}/raw")
        response.raise_for_status()
        return response.content

    def wait_for(
        self, *, subject: str | None = None, to: str | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The newest message whose subject contains ``subject`` and whose envelope
        recipients include ``to`` (both optional), as :meth:`message` gives it; waits up
        to ``timeout`` seconds, then raises ``AssertionError`` listing what arrived."""
        deadline = time.monotonic() + timeout
        while True:
            listed = self.messages(limit=500)
            for item in listed:
                if subject is not None and subject not in item["subject"]:
                    continue
                if to is not None and to not in item["recipients"]:
                    continue
                return self.message(item["id"])
            if time.monotonic() > deadline:
                seen = [(m["subject"], m["recipients"]) for m in listed[:10]]
                raise AssertionError(
                    f"no message with subject={subject!r} to={to!r} within {timeout} s; "
                    f"the inbox has {seen}"
                )
            time.sleep(0.05)

    def clear(self) -> int:
        """Delete every message; return how many there were."""
        response = self._http.delete("/api/messages")
        response.raise_for_status()
        deleted: int = response.json()["deleted"]
        return deleted

    def stop(self) -> None:
        """Stop the server (SIGTERM) and remove its temporary store."""
        self._http.close()
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
        try:
            self._process.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - it stops in < 1 s
            self._process.kill()
            self._process.communicate()
        if self._folder is not None:
            self._folder.cleanup()

    def __enter__(self) -> InboxServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"InboxServer(smtp={self.smtp_host}:{self.smtp_port}, url={self.url!r})"


__all__ = ["InboxServer"]
