"""The Django backend configured through Django 6.1's ``MAILERS`` setting.

Runs only on Django >= 6.1 (which needs Python >= 3.12); older Django has no ``MAILERS``.
Each test overrides ``MAILERS`` and sends through Django's own API (``send_mail``,
``send_mass_mail``, ``mail_admins``, ``EmailMessage.send`` with ``using=``, ``mailers[...]``)
to ``memory://`` or to a real aiosmtpd server on loopback.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import MIMEPart
from typing import Any
from urllib.parse import quote

import django
import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.test.utils import override_settings
from servers.smtp import PASSWORD, USER, Faults, SMTPServer, TestCA

from unisend import ConfigurationError, MessageRejected
from unisend.contrib.django import EmailBackend

BACKEND = "unisend.contrib.django.EmailBackend"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))

pytestmark = [
    pytest.mark.skipif(django.VERSION < (6, 1), reason="MAILERS is new in Django 6.1"),
    pytest.mark.usefixtures("django_settings"),
    # The shared django_settings fixture configures the legacy EMAIL_BACKEND (for
    # test_django.py); Django 6.1 warns about that setting when it is configured.
    pytest.mark.filterwarnings(
        "ignore:The EMAIL_BACKEND setting is deprecated:PendingDeprecationWarning"
    ),
]


def _mailer(url: str, **options: Any) -> dict[str, Any]:
    return {"BACKEND": BACKEND, "OPTIONS": {"url": url, **options}}


def _smtp_url(server: SMTPServer) -> str:
    return f"smtp://127.0.0.1:{server.port}?security=none"


def _memory_mailers() -> dict[str, Any]:
    return {
        "default": _mailer("memory://?name=primary"),
        "bulk": _mailer(
            "memory://?name=bulk",
            retry={"attempts": 1, "backoff": 0},
            default_sender="News <news@example.com>",
        ),
    }


# --- memory:// -----------------------------------------------------------------------


def test_each_alias_is_built_from_its_options() -> None:
    with override_settings(MAILERS=_memory_mailers()):
        default, bulk = mail.mailers["default"], mail.mailers["bulk"]
    assert isinstance(default, EmailBackend) and isinstance(bulk, EmailBackend)
    assert (default.alias, bulk.alias) == ("default", "bulk")
    assert default.mailer.transport.name == "primary"
    assert default.mailer.retry.attempts == 3  # RetryPolicy's default
    assert default.mailer.default_sender is None
    assert bulk.mailer.transport.name == "bulk"
    assert (bulk.mailer.retry.attempts, bulk.mailer.retry.backoff) == (1, 0)
    assert str(bulk.mailer.default_sender) == "News <news@example.com>"
    assert default.fail_silently is False


def test_email_message_send_goes_to_the_alias_named_by_using() -> None:
    to_bulk = EmailMessage("Bulk", "b", "a@example.com", ["b@example.com"])
    to_default = EmailMessage("Default", "b", "a@example.com", ["c@example.com"])
    with override_settings(MAILERS=_memory_mailers()):
        assert to_bulk.send(using="bulk") == 1
        assert to_default.send() == 1  # no using: MAILERS["default"]
    assert to_bulk.unisend_result.transport == "bulk"  # type: ignore[attr-defined]
    assert to_default.unisend_result.transport == "primary"  # type: ignore[attr-defined]


def test_mailer_from_mailers_converts_and_applies_default_sender() -> None:
    message = EmailMessage("Hi", "plain body", "", ["bob@example.com"], cc=["cc@example.com"])
    message.from_email = ""  # Django fills DEFAULT_FROM_EMAIL; an emptied one uses the option
    with override_settings(MAILERS=_memory_mailers()), mail.mailers["bulk"] as backend:
        assert backend.send_messages([message]) == 1
        (sent,) = backend.mailer.transport.outbox
    assert str(sent.sender) == "News <news@example.com>"
    assert [a.email for a in sent.to] == ["bob@example.com"]
    assert [a.email for a in sent.cc] == ["cc@example.com"]
    assert (sent.subject, sent.text) == ("Hi", "plain body")


def test_unknown_option_is_refused_by_django() -> None:
    mailers = {"default": _mailer("memory://", URL="memory://")}
    with override_settings(MAILERS=mailers), pytest.raises(ImproperlyConfigured, match="'URL'"):
        mail.mailers["default"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"url": "nope://x"}, "unknown URL scheme"),
        ({"url": "memory://", "retry": {"tries": 2}}, "tries"),
        ({"url": "memory://", "default_sender": "not an address"}, "sender"),
    ],
)
def test_bad_options_raise_configuration_error(options: dict[str, Any], match: str) -> None:
    mailers = {"default": _mailer("memory://"), "bad": {"BACKEND": BACKEND, "OPTIONS": options}}
    with override_settings(MAILERS=mailers), pytest.raises(ConfigurationError, match=match):
        mail.send_mail("S", "b", "a@example.com", ["b@example.com"], using="bad")


def test_missing_url_names_the_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNISEND_URL", raising=False)
    mailers = {"default": _mailer("memory://"), "empty": {"BACKEND": BACKEND}}
    with (
        override_settings(MAILERS=mailers, UNISEND_URL=None),
        pytest.raises(ConfigurationError, match=r"MAILERS\['empty'\]"),
    ):
        mail.mailers["empty"]


# --- a real SMTP server ----------------------------------------------------------------


def test_send_mail_using_a_second_alias_over_smtp(smtp_plain: SMTPServer) -> None:
    mailers = {
        "default": _mailer("memory://"),
        "smtp": _mailer(_smtp_url(smtp_plain), retry={"attempts": 1}),
    }
    with override_settings(MAILERS=mailers):
        sent = mail.send_mail(
            "Grüße",
            "plain body",
            "Ann <ann@example.com>",
            ["bob@example.com"],
            html_message="<p>html body</p>",
            using="smtp",
        )
    assert sent == 1
    (received,) = smtp_plain.messages
    assert (received.mail_from, received.rcpt_tos) == ("ann@example.com", ["bob@example.com"])
    parsed = received.parsed()
    assert parsed["Subject"] == "Grüße" and parsed["From"] == "Ann <ann@example.com>"
    assert parsed.get_body(("plain",)).get_content().strip() == "plain body"  # type: ignore[union-attr]
    assert parsed.get_body(("html",)).get_content().strip() == "<p>html body</p>"  # type: ignore[union-attr]
    assert smtp_plain.recorder.commands[-1] == "QUIT"


def test_send_mass_mail_using_alias_shares_one_connection(smtp_plain: SMTPServer) -> None:
    datatuple = [(f"n{i}", "body", "a@example.com", [f"r{i}@example.com"]) for i in range(3)]
    mailers = {"default": _mailer("memory://"), "smtp": _mailer(_smtp_url(smtp_plain))}
    with override_settings(MAILERS=mailers):
        assert mail.send_mass_mail(datatuple, using="smtp") == 3
    assert [m.rcpt_tos for m in smtp_plain.messages] == [[f"r{i}@example.com"] for i in range(3)]
    assert smtp_plain.recorder.connections == 1
    assert smtp_plain.recorder.commands.count("QUIT") == 1


def test_default_alias_over_starttls_with_auth(smtp_starttls: SMTPServer, smtp_ca: TestCA) -> None:
    url = (
        f"smtp://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{smtp_starttls.port}"
        f"?ca_file={smtp_ca.ca_file}"
    )
    mailers = {
        "default": _mailer(url, retry={"attempts": 1}, default_sender="d@example.com"),
        "other": _mailer("memory://"),
    }
    # Django 6.1 deprecates (name, address) pairs in ADMINS.
    with override_settings(MAILERS=mailers, ADMINS=["ada@example.com", "bo@example.com"]):
        mail.mail_admins("Disk full", "df says 100%")
        anonymous = EmailMessage("No sender", "b", "", ["carl@example.com"])
        anonymous.from_email = ""
        assert anonymous.send() == 1
    admins, carl = smtp_starttls.messages
    assert admins.mail_from == "server@example.com"
    assert admins.rcpt_tos == ["ada@example.com", "bo@example.com"]
    assert admins.parsed()["Subject"] == "[Django] Disk full"
    assert (carl.mail_from, carl.rcpt_tos) == ("d@example.com", ["carl@example.com"])
    assert smtp_starttls.recorder.commands[:3] == ["EHLO", "STARTTLS", "EHLO"]
    assert smtp_starttls.recorder.auth[-1][2] is True


def test_mimepart_inline_image_on_the_wire(smtp_plain: SMTPServer) -> None:
    # Django 6.1 deprecates MIMEBase attachments in favour of email.message.MIMEPart.
    image = MIMEPart()
    image.set_content(PNG, "image", "png", disposition="inline", cid="<logo@example.com>")
    msg = EmailMultiAlternatives("Logo", "text", "a@example.com", ["bob@example.com"])
    msg.attach_alternative('<p><img src="cid:logo@example.com"></p>', "text/html")
    msg.attach(image)
    mailers = {"default": _mailer("memory://"), "smtp": _mailer(_smtp_url(smtp_plain))}
    with override_settings(MAILERS=mailers):
        assert msg.send(using="smtp") == 1
    (received,) = smtp_plain.messages
    parts = {p.get_content_type(): p for p in received.parsed().walk()}
    assert parts["image/png"]["Content-ID"] == "<logo@example.com>"
    assert parts["image/png"].get_content() == PNG
    assert "multipart/related" in parts  # the inline image sits with the html


def test_fail_silently_option_counts_only_accepted(
    smtp_server_factory: Callable[..., SMTPServer],
) -> None:
    server = smtp_server_factory(faults=Faults(rcpt={"nobody@example.com": "550 5.1.1 unknown"}))
    url = _smtp_url(server)
    mailers = {
        "default": _mailer(url, retry={"attempts": 1}),
        "quiet": _mailer(url, retry={"attempts": 1}, fail_silently=True),
    }
    messages = [
        EmailMessage("ok", "b", "a@example.com", ["bob@example.com"]),
        EmailMessage("bad", "b", "a@example.com", ["nobody@example.com"]),
    ]
    with override_settings(MAILERS=mailers):
        assert mail.mailers["quiet"].send_messages(messages) == 1
        assert isinstance(messages[1].unisend_error, MessageRejected)  # type: ignore[attr-defined]
        with pytest.raises(MessageRejected):
            mail.send_mail("bad", "b", "a@example.com", ["nobody@example.com"])
    assert [m.rcpt_tos for m in server.messages] == [["bob@example.com"]]
