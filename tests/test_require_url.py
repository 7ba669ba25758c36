"""UNISEND_REQUIRE_URL: with it set, a missing UNISEND_URL is a ConfigurationError in
Mailer.from_env(), AsyncMailer.from_env() and the CLI's send, instead of the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from unisend import AsyncMailer, ConfigurationError, Mailer
from unisend.transports import MemoryTransport, SandboxTransport


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("UNISEND_URL", raising=False)
    monkeypatch.delenv("UNISEND_REQUIRE_URL", raising=False)
    monkeypatch.setenv("UNISEND_SANDBOX", str(tmp_path / "sandbox.sqlite3"))


@pytest.mark.parametrize("flag", ["1", "true", "YES", "on"])
def test_required_url_missing_is_an_error(monkeypatch: pytest.MonkeyPatch, flag: str) -> None:
    monkeypatch.setenv("UNISEND_REQUIRE_URL", flag)
    with pytest.raises(ConfigurationError, match=r"UNISEND_URL is not set.*sandbox"):
        Mailer.from_env()
    with pytest.raises(ConfigurationError, match="UNISEND_URL is not set"):
        AsyncMailer.from_env()
    monkeypatch.setenv("UNISEND_URL", "")  # empty counts as missing
    with pytest.raises(ConfigurationError, match="UNISEND_URL is not set"):
        Mailer.from_env()


def test_required_url_present_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNISEND_REQUIRE_URL", "1")
    monkeypatch.setenv("UNISEND_URL", "memory://")
    with Mailer.from_env() as mailer:
        assert isinstance(mailer.transport, MemoryTransport)
    monkeypatch.setenv("UNISEND_URL", "sandbox://")  # the sandbox, asked for by name
    with Mailer.from_env() as mailer:
        assert isinstance(mailer.transport, SandboxTransport)


@pytest.mark.parametrize("flag", [None, "", "0", "false", "no", "off"])
def test_without_the_flag_the_sandbox_is_the_default(
    monkeypatch: pytest.MonkeyPatch, flag: str | None
) -> None:
    if flag is not None:
        monkeypatch.setenv("UNISEND_REQUIRE_URL", flag)
    with Mailer.from_env() as mailer:
        assert isinstance(mailer.transport, SandboxTransport)


def test_a_flag_that_is_not_a_boolean_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNISEND_REQUIRE_URL", "prod")
    with pytest.raises(ConfigurationError, match=r"must be 1 or 0.*'prod'"):
        Mailer.from_env()


def _cli_send(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "UNISEND_URL"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "unisend", "send", "--from", "a@example.com", "--to",
         "b@example.com", "--subject", "S", "--text", "t"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_cli_send_refuses_the_sandbox_fallback(tmp_path: Path) -> None:
    done = _cli_send(tmp_path, UNISEND_REQUIRE_URL="1")
    assert done.returncode == 2
    assert "UNISEND_URL is not set" in done.stderr
    assert not (tmp_path / "sandbox.sqlite3").exists()
    assert SandboxTransport(tmp_path / "sandbox.sqlite3").list() == []


def test_cli_send_with_the_flag_and_a_url_sends(tmp_path: Path) -> None:
    store = tmp_path / "explicit.sqlite3"
    done = _cli_send(tmp_path, UNISEND_REQUIRE_URL="1", UNISEND_URL=f"sandbox://{store}")
    assert done.returncode == 0, done.stderr
    assert [m.subject for m in SandboxTransport(store).list()] == ["S"]
