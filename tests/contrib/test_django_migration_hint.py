"""The Django backend's error when no unisend URL is set but Django's own EMAIL_* SMTP
settings are: it names them and the equivalent smtp:// URL, without the password."""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from django.core import mail
from django.test.utils import override_settings
from servers.smtp import PASSWORD, USER, SMTPServer

from unisend import ConfigurationError
from unisend.contrib.django import EmailBackend, smtp_settings_hint

pytestmark = [
    pytest.mark.usefixtures("django_settings"),
    pytest.mark.filterwarnings(
        r"ignore:(The EMAIL_BACKEND setting|get_connection\(\)|The 'fail_silently' argument)"
        r" .*deprecated:PendingDeprecationWarning"
    ),
    # Django 6.1 deprecates EMAIL_HOST & co. (MAILERS replaces them): these tests set them on
    # purpose, as a project migrating from Django's SMTP backend still has them.
    pytest.mark.filterwarnings(r"ignore:The EMAIL_\w+ setting is deprecated"),
]


def _error(monkeypatch: pytest.MonkeyPatch, **email_settings: Any) -> ConfigurationError:
    monkeypatch.delenv("UNISEND_URL", raising=False)
    with (
        override_settings(UNISEND_URL=None, **email_settings),
        pytest.raises(ConfigurationError) as caught,
    ):
        EmailBackend()
    return caught.value


def _all_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def test_names_the_settings_and_the_equivalent_url_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = _error(
        monkeypatch,
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT=587,
        EMAIL_HOST_USER="ann@example.com",
        EMAIL_HOST_PASSWORD="pa/ss@word-9",
        EMAIL_USE_TLS=True,
    )
    text = str(error)
    assert "EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS" in text
    assert "'smtp://ann%40example.com:***@smtp.example.com:587'" in text
    assert "settings.UNISEND_URL" in text and "migration" in text
    assert "pa/ss@word-9" not in _all_text(error) and "pa%2Fss" not in _all_text(error)


@pytest.mark.parametrize(
    ("email_settings", "url"),
    [
        ({"EMAIL_HOST": "mx.example.com", "EMAIL_USE_SSL": True, "EMAIL_PORT": 465},
         "smtps://mx.example.com:465"),
        ({"EMAIL_HOST": "mailpit", "EMAIL_PORT": 1025}, "smtp://mailpit:1025?security=none"),
        ({"EMAIL_HOST_USER": "u", "EMAIL_HOST_PASSWORD": "p", "EMAIL_TIMEOUT": 10},
         "smtp://u:***@localhost:25?security=none&allow_insecure_auth=true&timeout=10"),
    ],
)  # fmt: skip
def test_the_url_follows_the_security_settings(
    monkeypatch: pytest.MonkeyPatch, email_settings: dict[str, Any], url: str
) -> None:
    assert f"UNISEND_URL = {url!r}" in str(_error(monkeypatch, **email_settings))


def test_reading_the_settings_warns_nothing() -> None:
    """Django 6.1 warns on each read of a deprecated EMAIL_* setting; the hint reads them
    on purpose and must not add a warning of its own to the error it explains."""
    with (
        override_settings(UNISEND_URL=None, EMAIL_HOST="smtp.example.com"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error")
        hint = smtp_settings_hint()
    assert hint is not None and "'smtp://smtp.example.com:25?security=none'" in hint


def test_without_email_settings_the_error_stays_short(monkeypatch: pytest.MonkeyPatch) -> None:
    text = str(_error(monkeypatch))
    assert "no unisend URL" in text and "EMAIL_" not in text


def test_the_environment_variable_still_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNISEND_URL", "memory://")
    with override_settings(UNISEND_URL=None, EMAIL_HOST="smtp.example.com"):
        backend = EmailBackend()
    assert backend.mailer.transport.name == "memory"


def test_the_hinted_url_sends_where_django_would_have(
    monkeypatch: pytest.MonkeyPatch, smtp_server_factory: Callable[..., SMTPServer]
) -> None:
    server = smtp_server_factory(auth=True)  # plain SMTP with AUTH, as EMAIL_USE_TLS=False
    error = _error(
        monkeypatch,
        EMAIL_HOST=server.host,
        EMAIL_PORT=server.port,
        EMAIL_HOST_USER=USER,
        EMAIL_HOST_PASSWORD=PASSWORD,
    )
    hinted = str(error).split("UNISEND_URL = '", 1)[1].split("'", 1)[0]
    assert PASSWORD not in str(error)
    url = hinted.replace("***", quote(PASSWORD, safe=""))
    with override_settings(UNISEND_URL=url):
        assert mail.send_mail("Hi", "body", "a@example.com", ["b@example.com"]) == 1
    (received,) = server.messages
    assert received.rcpt_tos == ["b@example.com"]
    assert received.parsed()["Subject"] == "Hi"
    assert [ok for _, login, ok in server.recorder.auth if login == USER] == [True]
