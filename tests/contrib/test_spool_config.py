"""The spool configured the way each integration is: UNISEND_SPOOL, Django's
``UNISEND["SPOOL"]`` and Flask's ``UNISEND_SPOOL``. The route is a closed loopback port,
so every send fails now (connection refused) and must land in the spool."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from flask import Flask

from unisend import Mailer, Message, Spool
from unisend.contrib.flask import Unisend

NO_RETRY = {"attempts": 1, "backoff": 0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_route() -> str:
    return f"smtp://127.0.0.1:{free_port()}?security=none&timeout=5"


def queued_subjects(location: Path) -> list[str]:
    with Spool(location) as spool:
        return [entry.message.subject for entry in spool.entries("queued")]


def test_from_env_reads_unisend_spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    location = tmp_path / "env.sqlite3"
    monkeypatch.setenv("UNISEND_URL", closed_route())
    monkeypatch.setenv("UNISEND_SPOOL", str(location))
    from unisend import RetryPolicy

    with Mailer.from_env(retry=RetryPolicy(attempts=1, backoff=0)) as mailer:
        result = mailer.send(
            Message(sender="a@example.com", to="b@example.com", subject="env", text="x")
        )
    assert result.queued and result.spool_id
    assert queued_subjects(location) == ["env"]


@pytest.mark.usefixtures("django_settings")
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_django_setting_spool(tmp_path: Path) -> None:
    from django.core import mail
    from django.test.utils import override_settings

    location = tmp_path / "django.sqlite3"
    settings = {"URL": closed_route(), "RETRY": NO_RETRY, "SPOOL": str(location)}
    with override_settings(UNISEND_URL=None, UNISEND=settings):
        sent = mail.send_mail("django", "body", "shop@example.com", ["bob@example.com"])
    assert sent == 1
    assert queued_subjects(location) == ["django"]


def test_flask_config_spool(tmp_path: Path) -> None:
    location = tmp_path / "flask.sqlite3"
    app = Flask("shop")
    app.config.update(
        UNISEND_URL=closed_route(),
        UNISEND_RETRY=NO_RETRY,
        UNISEND_SPOOL=str(location),
        UNISEND_DEFAULT_SENDER="shop@example.com",
    )
    mail = Unisend(app)
    with app.app_context():
        result = mail.send(Message(to="bob@example.com", subject="flask", text="x"))
    assert result.queued
    assert queued_subjects(location) == ["flask"]


def test_a_bad_spool_setting_fails_at_start_up(tmp_path: Path) -> None:
    from unisend import ConfigurationError

    app = Flask("shop")
    app.config.update(UNISEND_URL="memory://", UNISEND_SPOOL=42)
    with pytest.raises(ConfigurationError, match="spool setting must be a file path"):
        Unisend(app)
