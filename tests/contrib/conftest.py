"""Fixtures for the adapter tests: Django settings, free ports, a Redis server."""

from __future__ import annotations

import importlib.metadata
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from servers.http import http_stub, stub  # noqa: F401  (pytest fixtures)
from servers.smtp import (  # noqa: F401  (pytest fixtures)
    smtp_ca,
    smtp_plain,
    smtp_server_factory,
    smtp_starttls,
)


def _plugin_installed() -> bool:
    return any(ep.name == "unisend" for ep in importlib.metadata.entry_points(group="pytest11"))


if not _plugin_installed():  # a source checkout that was not pip-installed
    from unisend.testing.pytest_plugin import unisend_outbox  # noqa: F401


@pytest.fixture(scope="session")
def django_settings() -> None:
    """Configure Django once for this process (the tests override per test)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            EMAIL_BACKEND="unisend.contrib.django.EmailBackend",
            UNISEND_URL="memory://",
            DEFAULT_FROM_EMAIL="Site <site@example.com>",
            SERVER_EMAIL="server@example.com",
            ADMINS=[("Ada Admin", "ada@example.com"), ("Bo Admin", "bo@example.com")],
            EMAIL_SUBJECT_PREFIX="[Django] ",
            USE_TZ=True,
        )
        django.setup()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, no persistence."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed: apt-get install -y redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"redis-server did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
