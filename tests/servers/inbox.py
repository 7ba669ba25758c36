"""``unisend sandbox serve`` started as a real subprocess on free loopback ports.

::

    from servers.inbox import Inbox, start_inbox

    with start_inbox(tmp_path / "store.sqlite3") as inbox:
        smtplib.SMTP(inbox.smtp_host, inbox.smtp_port).sendmail(...)
        httpx.get(f"{inbox.url}/api/messages")

The process is stopped with SIGTERM at the end and must exit 0.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

_BANNER_SMTP = re.compile(r"SMTP\s+(\S+):(\d+)\s")
_BANNER_WEB = re.compile(r"Web\s+(http://\S+?)/?$", re.MULTILINE)


@dataclass
class Inbox:
    """A running inbox server."""

    path: Path
    smtp_host: str
    smtp_port: int
    url: str
    process: subprocess.Popen[str] = field(repr=False)
    banner: str = ""
    started_in: float = 0.0
    output: str = ""
    _stopped: tuple[int, float, str] | None = field(default=None, repr=False)

    def api(self) -> httpx.Client:
        """An HTTP client for the API (same origin, no proxies)."""
        return httpx.Client(base_url=self.url, timeout=10.0, trust_env=False)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float, str]:
        """Send ``sig``; ``(exit code, seconds it took to exit, stderr)``; the rest of
        stdout lands in :attr:`output`."""
        if self._stopped is not None:
            return self._stopped
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        self.output += out
        self._stopped = (self.process.returncode, time.monotonic() - started, err)
        return self._stopped


def command(path: Path, *extra: str) -> list[str]:
    """The command line of ``unisend sandbox serve`` on free loopback ports."""
    return [
        sys.executable,
        "-m",
        "unisend",
        "sandbox",
        "serve",
        "--path",
        str(path),
        "--smtp",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        *extra,
    ]


def launch(args: list[str], timeout: float = 20.0) -> Inbox:
    """Start the server and wait for its banner."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_proxy")}
    env["PYTHONUNBUFFERED"] = "1"
    started = time.monotonic()
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    banner = ""
    deadline = started + timeout
    while "Press Ctrl-C" not in banner:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            raise RuntimeError(f"the inbox did not start: {banner!r} {err!r}")
        if selector.select(0.05):  # raw reads: a buffered readline would hide later lines
            banner += os.read(process.stdout.fileno(), 65536).decode()
    elapsed = time.monotonic() - started
    smtp = _BANNER_SMTP.search(banner)
    web = _BANNER_WEB.search(banner)
    assert smtp and web, banner
    path = Path(args[args.index("--path") + 1])
    return Inbox(
        path=path,
        smtp_host=smtp.group(1),
        smtp_port=int(smtp.group(2)),
        url=web.group(1),
        process=process,
        banner=banner,
        started_in=elapsed,
    )


@contextmanager
def start_inbox(path: Path, *extra: str) -> Iterator[Inbox]:
    """Run an inbox over ``path`` for the ``with`` block; it must stop cleanly."""
    inbox = launch(command(path, *extra))
    try:
        yield inbox
    finally:
        code, _, err = inbox.stop()
    assert code == 0, err
