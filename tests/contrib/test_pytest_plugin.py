"""The pytest plugin: the ``unisend_outbox`` fixture, run in fresh pytest processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import unisend
from unisend import AsyncMailer, Mailer, Message, _mailer, _url
from unisend.testing import capture_outbox

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(tmp_path: Path, source: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """Run pytest on ``source`` in a new process (``prelude`` runs before pytest starts)."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(source))
    # Other installed plugins stay out (faster, and no double registration through the
    # entry point): the plugin is loaded by the module path the entry point names.
    args = ["-q", "-p", "no:cacheprovider", "-p", "unisend.testing.pytest_plugin", str(tmp_path)]
    script = f"{textwrap.dedent(prelude)}\nimport sys, pytest\nsys.exit(pytest.main({args!r}))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNISEND_")}
    env.update(PYTHONPATH=str(ROOT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_entry_point_is_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    section = re.search(r"^\[project\.entry-points\.pytest11\]\n(.*?)(?:^\[|\Z)", text, re.M | re.S)
    assert section is not None
    assert section.group(1).split() == ["unisend", "=", '"unisend.testing.pytest_plugin"']


def test_fixture_with_django_flask_and_plain_mailers(tmp_path: Path) -> None:
    done = run_pytest(
        tmp_path,
        """
        import asyncio
        import pytest
        import django
        from django.conf import settings

        settings.configure(
            EMAIL_BACKEND="unisend.contrib.django.EmailBackend",
            UNISEND_URL="smtp://127.0.0.1:1?security=none",  # never contacted
            DEFAULT_FROM_EMAIL="site@example.com",
        )
        django.setup()

        def test_django(unisend_outbox):
            from django.core import mail
            mail.send_mail("Welcome", "hi", None, ["bob@example.com"])
            mail.send_mail("Other", "hi", None, ["carl@example.com"])
            assert len(unisend_outbox) == 2
            (msg,) = unisend_outbox.find(to="BOB@example.com")
            assert msg.subject == "Welcome" and msg.sender.email == "site@example.com"
            unisend_outbox.assert_sent(count=1, subject="Other", to="carl@example.com")
            with pytest.raises(AssertionError, match="expected 3 message"):
                unisend_outbox.assert_sent(count=3)
            with pytest.raises(AssertionError, match="no message matching"):
                unisend_outbox.assert_sent(to="nobody@example.com")

        def test_flask(unisend_outbox):
            from flask import Flask
            from unisend import Message
            from unisend.contrib.flask import Unisend
            app = Flask("t")
            app.config["UNISEND_URL"] = "sendgrid://SG.key@default"
            mail = Unisend(app)

            @app.post("/go")
            def go():
                return mail.send(Message(sender="a@example.com", to="z@example.com",
                                         subject="from flask", text="x")).transport

            assert app.test_client().post("/go").text == "memory"
            unisend_outbox.assert_sent(count=1, subject="from flask", contains="x")

        def test_plain_and_async(unisend_outbox):
            from unisend import AsyncMailer, Mailer, Message
            msg = Message(sender="a@example.com", to="b@example.com", subject="s", text="t")
            Mailer.from_env().send(msg)
            async def go():
                async with AsyncMailer.from_url("postmark://tok@default") as m:
                    return await m.send_many([msg, msg])
            assert len(asyncio.run(go())) == 2
            unisend_outbox.assert_sent(count=3)

        def test_each_test_starts_empty(unisend_outbox):
            unisend_outbox.assert_sent(count=0)
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout


def test_plugin_loads_without_django_or_flask(tmp_path: Path) -> None:
    blocker = """
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"django", "flask", "celery"}:
                    raise ImportError(f"{name} is not installed (blocked)")
                return None

        sys.meta_path.insert(0, Block())
    """
    done = run_pytest(
        tmp_path,
        """
        import sys
        from unisend import Mailer, Message

        def test_outbox(unisend_outbox):
            Mailer.from_url("smtp://mail.example.com").send(
                Message(sender="a@example.com", to="b@example.com", subject="s", text="t"))
            unisend_outbox.assert_sent(count=1)
            assert not {"django", "flask", "celery"} & set(sys.modules)
        """,
        prelude=blocker,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_capture_restores_everything_it_patched(make_message: object) -> None:
    originals = (_url.from_url, _mailer.from_url, Mailer.send, AsyncMailer.send_many)
    had_attr = "from_url" in vars(unisend)
    with capture_outbox() as outer:
        with capture_outbox() as inner:
            Mailer.from_url("memory://").send(
                Message(sender="a@example.com", to="b@example.com", subject="in", text="t")
            )
        Mailer.from_url("memory://").send(
            Message(sender="a@example.com", to="b@example.com", subject="out", text="t")
        )
    assert [m.subject for m in inner] == ["in"]
    assert [m.subject for m in outer] == ["out"]
    assert (_url.from_url, _mailer.from_url, Mailer.send, AsyncMailer.send_many) == originals
    assert ("from_url" in vars(unisend)) == had_attr


def test_default_sender_and_invalid_input_still_apply() -> None:
    from unisend import InvalidMessage

    with capture_outbox() as outbox:
        mailer = Mailer.from_url("memory://", default_sender="d@example.com")
        mailer.send(Message(to="b@example.com", subject="s", text="t"))
        with pytest.raises(InvalidMessage, match="sender"):
            Mailer.from_url("memory://").send(Message(to="b@example.com", subject="s", text="t"))
    assert outbox[0].sender is not None and outbox[0].sender.email == "d@example.com"
    assert len(outbox) == 1
