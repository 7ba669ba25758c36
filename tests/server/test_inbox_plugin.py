"""The pytest plugin's ``unisend_inbox`` fixture, run in a fresh pytest process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = """
import smtplib

import pytest


def send(inbox, subject, to="bob@example.com"):
    with smtplib.SMTP(inbox.smtp_host, inbox.smtp_port) as client:
        client.sendmail("app@example.com", [to], f"Subject: {subject}\\r\\n\\r\\nhello\\r\\n")


def test_first(unisend_inbox):
    send(unisend_inbox, "Welcome")
    message = unisend_inbox.wait_for(subject="Welcome", to="bob@example.com")
    assert message["text"] == "hello\\r\\n"
    assert unisend_inbox.raw(message["id"]).endswith(b"hello\\r\\n")


def test_second_starts_empty(unisend_inbox):
    assert unisend_inbox.messages() == []
    send(unisend_inbox, "Other", to="carol@example.com")
    with pytest.raises(AssertionError, match="no message with subject='Welcome'"):
        unisend_inbox.wait_for(subject="Welcome", timeout=0.3)
"""


def test_unisend_inbox_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    args = ["-q", "-p", "no:cacheprovider", "-p", "unisend.testing.pytest_plugin", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNISEND_")}
    env.update(PYTHONPATH=str(ROOT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    result = subprocess.run(
        [sys.executable, "-c", f"import sys, pytest; sys.exit(pytest.main({args!r}))"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
