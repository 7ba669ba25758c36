"""Fixtures shared by every test: a clean environment, no network beyond loopback, and a
message factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings
from network_guard import refuse_the_network

from unisend import Message

_ENV_PREFIXES = ("UNISEND_", "SSL_CERT_")

# Hypothesis's 200 ms deadline per example measures the machine, not the code: on a busy
# 2-core CI machine a trivial example stalled 263 ms and failed the run.
settings.register_profile("unisend", deadline=None)
settings.load_profile("unisend")


@pytest.fixture(autouse=True)
def clean_environ(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No test sees the developer's UNISEND_* or SSL_CERT_* variables; the sandbox
    store lives in a temporary folder."""
    import os

    for key in list(os.environ):
        if key.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("UNISEND_SANDBOX", str(tmp_path_factory.mktemp("sandbox") / "mail.sqlite3"))
    yield


@pytest.fixture(autouse=True)
def no_network_beyond_loopback(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Tests talk to the servers they start on loopback, never to the network: a connect
    to any other address is refused here and fails the test (``live`` tests excepted)."""
    if request.node.get_closest_marker("live") is not None:
        yield
        return
    attempts = refuse_the_network(monkeypatch)
    yield
    assert not attempts, f"this test tried to reach the network: {', '.join(attempts)}"


@pytest.fixture
def make_message() -> Callable[..., Message]:
    """Build a valid message; keyword arguments override the defaults."""

    def make(**overrides: Any) -> Message:
        fields: dict[str, Any] = {
            "sender": "Ann Sender <ann@example.com>",
            "to": ["Bob <bob@example.com>"],
            "subject": "Hello",
            "text": "Hello Bob",
        }
        fields.update(overrides)
        return Message(**fields)

    return make
