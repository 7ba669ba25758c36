"""The HTTP provider stub (``../shared/bench/http_stub.py``) as a loopback subprocess.

Use it from any test module::

    from servers.http import http_stub, stub  # noqa: F401  (pytest fixtures)

    def test_it(stub: HttpStub) -> None:
        transport = SendGridTransport(api_key="k", base_url=stub.url)
        ...
        assert stub.stats()["by_route"] == {"sendgrid": 1}

``http_stub`` is one process per test session (per importing module); ``stub`` is the
same process with its counters reset before the test. ``stub.fault_url(429)`` is a
``base_url`` under which every request fails with that status (the stub's
``/_fault/<status>/<rate>/`` prefix; 429 and 503 carry ``Retry-After: 1``).
``https_stub`` adds a TLS listener (``https_stub.https_url``, CA in ``https_stub.ca_file``).
``start_stub(...)`` starts a private one with command-line options (``--latency-ms``,
``--fault-rate``...), optionally with a trustme TLS listener (``tls=True``).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

#: Where the stub lives; ``HTTP_STUB_PATH`` overrides (e.g. for a vendored copy).
STUB_PATH = Path(
    os.environ.get("HTTP_STUB_PATH")
    or Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "http_stub.py"
)
_START_TIMEOUT = 15.0


@dataclass
class HttpStub:
    """A running stub: where it listens and how to read and reset its counters."""

    host: str
    port: int
    process: subprocess.Popen[str] = field(repr=False)
    tls_port: int | None = None
    ca_file: str | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: a ``base_url`` for any HTTP transport."""
        return f"http://{self.host}:{self.port}"

    @property
    def https_url(self) -> str:
        """``https://127.0.0.1:TLS_PORT`` (only with ``tls=True``; trust :attr:`ca_file`)."""
        if self.tls_port is None:
            raise RuntimeError("this stub was started without tls=True")
        return f"https://{self.host}:{self.tls_port}"

    def fault_url(self, status: int, rate: float = 1.0) -> str:
        """A ``base_url`` under which a ``rate`` fraction of requests fails with ``status``."""
        return f"{self.url}/_fault/{status}/{rate}"

    def stats(self) -> dict[str, Any]:
        """The stub's counters (``requests``, ``messages``, ``by_route``, ``faults``...)."""
        response = httpx.get(f"{self.url}/_stats", timeout=5.0)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def reset(self) -> None:
        """Set every counter back to zero."""
        httpx.post(f"{self.url}/_reset", timeout=5.0).raise_for_status()

    def stop(self) -> None:
        """Terminate the process (only this one, by its pid) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5.0)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=_START_TIMEOUT):
            process.kill()
            raise RuntimeError(f"{STUB_PATH} printed nothing within {_START_TIMEOUT} s")
    line = process.stdout.readline()
    if not line:
        error = process.stderr.read() if process.stderr is not None else ""
        raise RuntimeError(f"{STUB_PATH} exited at start: {error.strip()[-2000:]}")
    return line


@contextmanager
def start_stub(*options: str, tls: bool = False, ca_file: str | None = None) -> Iterator[HttpStub]:
    """Run the stub on a free loopback port for the ``with`` block.

    ``options`` are extra command-line options, e.g. ``"--latency-ms", "5"``. With
    ``tls=True`` it also listens with a trustme certificate whose CA is written to
    ``ca_file`` (default: a file in a new temporary directory).
    """
    if not STUB_PATH.is_file():
        raise RuntimeError(f"the HTTP stub is missing: {STUB_PATH} (set HTTP_STUB_PATH)")
    command = [sys.executable, str(STUB_PATH), "--host", "127.0.0.1", "--port", "0", *options]
    if tls:
        command += ["--tls-port", "0"]
        if ca_file is not None:
            command += ["--ca-file", ca_file]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key in ("STUB_FAULT_RATE", "STUB_FAULT_STATUS", "STUB_RETRY_AFTER", "STUB_FAULT_SEED"):
        env.pop(key, None)  # only explicit options inject faults
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        info = json.loads(_first_line(process))
        stub = HttpStub(
            host=info["host"],
            port=int(info["port"]),
            process=process,
            tls_port=info.get("tls_port"),
            ca_file=info.get("ca_file"),
        )
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5.0)
        raise
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture(scope="session")
def http_stub() -> Iterator[HttpStub]:
    """One plain-HTTP stub for the session (counters are shared: see ``stub``)."""
    with start_stub() as running:
        yield running


@pytest.fixture(scope="session")
def https_stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpStub]:
    """A stub that also listens with TLS (trustme certificate for 127.0.0.1); its CA is
    ``https_stub.ca_file``. Counters are shared for the session: reset them yourself."""
    ca_file = str(tmp_path_factory.mktemp("http-stub-ca") / "ca.pem")
    with start_stub(tls=True, ca_file=ca_file) as running:
        yield running


@pytest.fixture
def stub(http_stub: HttpStub) -> HttpStub:
    """The session's stub with its counters reset for this test."""
    http_stub.reset()
    return http_stub


__all__ = ["STUB_PATH", "HttpStub", "http_stub", "https_stub", "start_stub", "stub"]
