"""Fixtures shared by every test: a clean environment and a message factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from unisend import Message

_ENV_PREFIXES = ("UNISEND_", "SSL_CERT_")


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
