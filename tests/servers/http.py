"""The project's HTTP test server (``http_server.py`` beside this file: the providers'
APIs, see its docstring for routes, credentials and faults) as a loopback subprocess.

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
``--fault-rate``, ``--bad-credential``...), optionally with a trustme TLS listener
(``tls=True``). ``stub.requests()`` is the server's log of recent requests.

Credentials: ``bad`` (or a missing one) is answered 401, ``forbidden`` 403, anything else
is good, on every provider route, including the read-only key checks ``unisend doctor``
uses (SendGrid ``GET /v3/scopes``, Postmark ``GET /server``, Mailjet ``GET
/v3/REST/apikey``, Brevo ``GET /v3/account``, Mailtrap ``GET /api/accounts``).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

#: The server's script, run with the tests' own interpreter.
STUB_PATH = Path(__file__).resolve().with_name("http_server.py")
_START_TIMEOUT = 15.0


@dataclass
class HttpStub:
    """A running stub: where it listens and how to read and reset its counters."""

    host: str
    port: int
    process: subprocess.Popen[str] = field(repr=False)
    tls_port: int | None = None
    ca_file: str | None = None
    log: IO[str] | None = field(default=None, repr=False)  # the process's stderr

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

    def _control(self, method: str, path: str) -> Any:
        # A new connection each time, as before; plain HTTP needs no CA bundle (loading
        # one costs ~0.1 s per call) and no proxy from the environment.
        with httpx.Client(verify=False, trust_env=False, timeout=5.0) as client:
            response = client.request(method, f"{self.url}{path}")
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        """The stub's counters (``requests``, ``messages``, ``by_route``, ``faults``...)."""
        data: dict[str, Any] = self._control("GET", "/_stats")
        return data

    def requests(self) -> list[dict[str, Any]]:
        """The last requests, oldest first: ``method``, ``path``, ``route`` (None when no
        provider route matched), ``status``, ``headers`` (lower-case names), ``length``."""
        data: list[dict[str, Any]] = self._control("GET", "/_requests")
        return data

    def reset(self) -> None:
        """Set every counter back to zero."""
        self._control("POST", "/_reset")

    def stop(self) -> None:
        """Terminate the process (only this one, by its pid) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5.0)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def stderr(self) -> str:
        """What the process wrote to stderr so far (tracebacks of server bugs)."""
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read()


def _first_line(process: subprocess.Popen[str], log: IO[str]) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=_START_TIMEOUT):
            process.kill()
            raise RuntimeError(f"{STUB_PATH} printed nothing within {_START_TIMEOUT} s")
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=5.0)
        log.seek(0)
        raise RuntimeError(f"{STUB_PATH} exited at start: {log.read().strip()[-2000:]}")
    return line


@contextmanager
def start_stub(*options: str, tls: bool = False, ca_file: str | None = None) -> Iterator[HttpStub]:
    """Run the stub on a free loopback port for the ``with`` block.

    ``options`` are extra command-line options, e.g. ``"--latency-ms", "5"``. With
    ``tls=True`` it also listens with a trustme certificate whose CA is written to
    ``ca_file`` (default: a file in a new temporary directory).
    """
    command = [sys.executable, str(STUB_PATH), "--host", "127.0.0.1", "--port", "0", *options]
    if tls:
        command += ["--tls-port", "0"]
        if ca_file is not None:
            command += ["--ca-file", ca_file]
    # stderr goes to a file: a pipe nobody reads could fill up and stall the server
    log = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        info = json.loads(_first_line(process, log))
        stub = HttpStub(
            host=info["host"],
            port=int(info["port"]),
            process=process,
            tls_port=info.get("tls_port"),
            ca_file=info.get("ca_file"),
            log=log,
        )
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5.0)
        log.close()
        raise
    try:
        yield stub
    finally:
        stub.stop()
        errors = stub.stderr()
        log.close()
    if "Traceback" in errors:
        raise RuntimeError(f"the HTTP test server hit a bug:\n{errors[-4000:]}")


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
