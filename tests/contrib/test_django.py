"""The Django backend, driven through Django's own mail API."""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.mime.image import MIMEImage
from email.mime.text import MIMEText
from typing import Any
from urllib.parse import quote

import pytest
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.test.utils import override_settings
from servers.http import HttpStub
from servers.smtp import PASSWORD, USER, Faults, SMTPServer, TestCA

from unisend import ConfigurationError, InvalidMessage, MessageRejected, SendError
from unisend.contrib.django import EmailBackend, to_message
from unisend.testing import Outbox

pytestmark = [
    pytest.mark.usefixtures("django_settings"),
    # These tests drive the legacy API (EMAIL_BACKEND, get_connection, fail_silently, ...)
    # on purpose; Django >= 6.1 deprecates it in favour of MAILERS (test_django_mailers.py).
    pytest.mark.filterwarnings(
        r"ignore:(The EMAIL_BACKEND setting|get_connection\(\)|The 'fail_silently' argument"
        r"|The 'connection' argument|Using \(name, address\) pairs|MIMEBase attachments)"
        r" .*deprecated"
        ":PendingDeprecationWarning"
    ),
]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def test_send_mail_converts_and_counts(unisend_outbox: Outbox) -> None:
    sent = mail.send_mail(
        "Hi", "plain body", None, ["bob@example.com"], html_message="<p>html body</p>"
    )
    assert sent == 1
    (message,) = unisend_outbox.assert_sent(count=1, to="bob@example.com", subject="Hi")
    assert str(message.sender) == "Site <site@example.com>"  # DEFAULT_FROM_EMAIL
    assert message.text == "plain body"
    assert message.html == "<p>html body</p>"


def test_send_mass_mail_shares_one_backend(unisend_outbox: Outbox) -> None:
    datatuple = [
        ("One", "body 1", "a@example.com", ["x@example.com"]),
        ("Two", "body 2", "b@example.com", ["y@example.com", "z@example.com"]),
    ]
    assert mail.send_mass_mail(datatuple) == 2
    assert [m.subject for m in unisend_outbox] == ["One", "Two"]
    assert [a.email for a in unisend_outbox[1].to] == ["y@example.com", "z@example.com"]


def test_mail_admins(unisend_outbox: Outbox) -> None:
    mail.mail_admins("Disk full", "df says 100%", html_message="<b>100%</b>")
    (message,) = unisend_outbox.assert_sent(count=1, subject="[Django] Disk full")
    assert message.sender is not None and message.sender.email == "server@example.com"
    assert [a.email for a in message.to] == ["ada@example.com", "bo@example.com"]
    assert message.html == "<b>100%</b>"


def test_multi_alternatives_attachments_and_headers() -> None:
    msg = EmailMultiAlternatives(
        subject="Report",
        body="see html",
        from_email="Ann <ann@example.com>",
        to=["bob@example.com"],
        cc=["carl@example.com"],
        bcc=["dora@example.com"],
        reply_to=["help@example.com"],
        headers={"X-Campaign": "spring", "List-Unsubscribe": "<mailto:u@example.com>"},
    )
    msg.attach_alternative('<p>see <img src="cid:logo@example.com"></p>', "text/html")
    msg.attach("data.csv", "a,b\n1,2\n", "text/csv")
    msg.attach("blob.bin", b"\x00\xff\x10")
    image = MIMEImage(PNG, "png")
    image.add_header("Content-ID", "<logo@example.com>")
    image.add_header("Content-Disposition", "inline")
    msg.attach(image)
    named = MIMEText("note", "plain")
    named.add_header("Content-Disposition", "attachment", filename="note.txt")
    msg.attach(named)

    message = to_message(msg)

    assert message.text == "see html"
    assert message.html is not None and "cid:logo@example.com" in message.html
    assert [a.email for a in message.cc] == ["carl@example.com"]
    assert [a.email for a in message.bcc] == ["dora@example.com"]
    assert [a.email for a in message.reply_to] == ["help@example.com"]
    assert message.headers == {
        "X-Campaign": "spring",
        "List-Unsubscribe": "<mailto:u@example.com>",
    }
    csv, blob, logo, note = message.attachments
    assert (csv.filename, csv.content, csv.mimetype) == ("data.csv", b"a,b\n1,2\n", "text/csv")
    assert (blob.content, blob.mimetype) == (b"\x00\xff\x10", "application/octet-stream")
    assert (logo.content, logo.mimetype, logo.inline) == (PNG, "image/png", True)
    assert logo.content_id == "logo@example.com"
    assert logo.filename == "logo.png"
    assert (note.filename, note.content, note.inline) == ("note.txt", b"note", False)


def test_html_body_with_text_alternative() -> None:
    msg = EmailMultiAlternatives("S", "<h1>hi</h1>", "a@example.com", ["b@example.com"])
    msg.content_subtype = "html"
    msg.attach_alternative("hi", "text/plain")
    message = to_message(msg)
    assert (message.text, message.html) == ("hi", "<h1>hi</h1>")


def test_extra_header_from_and_reply_to_win_as_in_django() -> None:
    msg = EmailMessage(
        "S",
        "b",
        "envelope@example.com",
        ["b@example.com"],
        reply_to=["old@example.com"],
        headers={"From": "Shown <shown@example.com>", "Reply-To": "r1@example.com, r2@example.com"},
    )
    message = to_message(msg)
    assert str(message.sender) == "Shown <shown@example.com>"
    assert [a.email for a in message.reply_to] == ["r1@example.com", "r2@example.com"]


def test_headers_unisend_owns_are_dropped_and_message_id_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    msg = EmailMessage(
        "S",
        "b",
        "a@example.com",
        ["b@example.com"],
        headers={
            "Message-ID": "<mine@example.com>",
            "Date": "Mon, 1 Jan 2024 00:00:00 +0000",
            "MIME-Version": "1.0",
            "In-Reply-To": "<prev@example.com>",
        },
    )
    with caplog.at_level(logging.WARNING, "unisend.contrib.django"):
        message = to_message(msg)
    assert message.headers == {"In-Reply-To": "<prev@example.com>"}
    assert "Message-ID" in caplog.text and "<mine@example.com>" in caplog.text


@pytest.mark.parametrize("header", ["To", "cc", "Bcc", "Subject", "Sender"])
def test_headers_that_would_lie_are_refused(header: str) -> None:
    msg = EmailMessage(
        "S", "b", "a@example.com", ["b@example.com"], headers={header: "x@example.com"}
    )
    with pytest.raises(InvalidMessage, match=header):
        to_message(msg)


def test_unsupported_alternative_is_refused() -> None:
    msg = EmailMultiAlternatives("S", "b", "a@example.com", ["b@example.com"])
    msg.attach_alternative("BEGIN:VCALENDAR", "text/calendar")
    with pytest.raises(InvalidMessage, match="text/calendar"):
        to_message(msg)


def test_invalid_message_raises_before_anything_is_sent(unisend_outbox: Outbox) -> None:
    good = EmailMessage("ok", "b", "a@example.com", ["b@example.com"])
    bad = EmailMessage("bad\r\nBcc: evil@example.com", "b", "a@example.com", ["b@example.com"])
    with pytest.raises(InvalidMessage, match="subject"):
        mail.get_connection(fail_silently=True).send_messages([good, bad])
    assert len(unisend_outbox) == 0


def test_anymail_style_attributes_map_to_fields() -> None:
    msg: Any = EmailMessage("S", "b", "a@example.com", ["b@example.com"])
    msg.tags = ["welcome"]
    msg.metadata = {"user": "42"}
    message = to_message(msg)
    assert (message.tags, message.metadata) == (["welcome"], {"user": "42"})


class _Refusing:
    """A transport stand-in whose sends are all refused."""

    name = "refusing"

    def send(self, message: object) -> None:
        raise MessageRejected("recipient unknown", transport="refusing", status_code=550)

    def close(self) -> None:
        pass


def test_fail_silently_swallows_send_errors_only() -> None:
    backend = EmailBackend(fail_silently=True)
    backend.mailer.transport = _Refusing()  # type: ignore[assignment]
    msg = EmailMessage("S", "b", "a@example.com", ["b@example.com"])
    assert backend.send_messages([msg]) == 0
    assert isinstance(msg.unisend_error, MessageRejected)  # type: ignore[attr-defined]

    loud = EmailBackend(fail_silently=False)
    loud.mailer.transport = _Refusing()  # type: ignore[assignment]
    with pytest.raises(SendError, match="recipient unknown"):
        loud.send_messages([EmailMessage("S", "b", "a@example.com", ["b@example.com"])])


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"UNISEND_URL": "nope://x"}, "unknown URL scheme"),
        ({"UNISEND_URL": None, "UNISEND": {"URL": "memory://", "RETRY": {"tries": 2}}}, "tries"),
        ({"UNISEND_URL": None, "UNISEND": {"URL": "memory://", "PASSWORD": "x"}}, "PASSWORD"),
        ({"UNISEND": {"URL": "memory://"}}, "both"),
        ({"UNISEND_URL": None}, "UNISEND_URL"),
        ({"UNISEND_URL": "memory://", "UNISEND": {"DEFAULT_SENDER": "not an address"}}, "sender"),
    ],
)
def test_configuration_errors_are_never_silenced(overrides: dict[str, Any], match: str) -> None:
    with override_settings(**overrides), pytest.raises(ConfigurationError, match=match):
        mail.send_mail("S", "b", "a@example.com", ["b@example.com"], fail_silently=True)


def test_unisend_dict_settings_apply_retry_and_default_sender() -> None:
    settings = {
        "URL": "memory://",
        "RETRY": {"ATTEMPTS": 1, "backoff": 0},
        "DEFAULT_SENDER": "d@example.com",
    }
    with override_settings(UNISEND_URL=None, UNISEND=settings):
        backend = mail.get_connection()
    assert backend.mailer.retry.attempts == 1
    assert str(backend.mailer.default_sender) == "d@example.com"
    msg = EmailMessage("S", "b", "x@example.com", ["b@example.com"])
    msg.from_email = ""  # Django fills DEFAULT_FROM_EMAIL; an emptied one uses DEFAULT_SENDER
    assert backend.send_messages([msg]) == 1
    (sent,) = backend.mailer.transport.outbox
    assert sent.sender.email == "d@example.com"


def test_options_override_settings_as_with_mailers() -> None:
    backend = EmailBackend(url="memory://", retry={"attempts": 2}, default_sender="o@example.com")
    assert backend.mailer.retry.attempts == 2
    assert backend.mailer.transport.name == "memory"


# --- end to end: Django -> unisend -> a real SMTP server / the HTTP stub --------------


def _smtp_url(server: SMTPServer) -> str:
    return f"smtp://127.0.0.1:{server.port}?security=none"


def test_send_mail_over_smtp(smtp_plain: SMTPServer) -> None:
    with override_settings(UNISEND_URL=_smtp_url(smtp_plain)):
        sent = mail.send_mail(
            "Grüße",
            "plain body",
            "Ann <ann@example.com>",
            ["bob@example.com"],
            html_message="<p>html body</p>",
        )
    assert sent == 1
    (received,) = smtp_plain.messages
    assert (received.mail_from, received.rcpt_tos) == ("ann@example.com", ["bob@example.com"])
    parsed = received.parsed()
    assert parsed["Subject"] == "Grüße" and parsed["From"] == "Ann <ann@example.com>"
    assert parsed.get_body(("plain",)).get_content().strip() == "plain body"  # type: ignore[union-attr]
    assert parsed.get_body(("html",)).get_content().strip() == "<p>html body</p>"  # type: ignore[union-attr]
    assert smtp_plain.recorder.commands[-1] == "QUIT"  # the call's session was closed


def test_send_mass_mail_uses_one_connection(smtp_plain: SMTPServer) -> None:
    datatuple = [(f"n{i}", "body", "a@example.com", [f"r{i}@example.com"]) for i in range(3)]
    with override_settings(UNISEND_URL=_smtp_url(smtp_plain)):
        assert mail.send_mass_mail(datatuple) == 3
    assert [m.rcpt_tos for m in smtp_plain.messages] == [
        ["r0@example.com"],
        ["r1@example.com"],
        ["r2@example.com"],
    ]
    assert smtp_plain.recorder.connections == 1
    assert smtp_plain.recorder.commands.count("QUIT") == 1


def test_get_connection_block_shares_one_connection(smtp_plain: SMTPServer) -> None:
    with override_settings(UNISEND_URL=_smtp_url(smtp_plain)):
        with mail.get_connection() as connection:
            for i in range(3):
                EmailMessage(
                    f"m{i}", "b", "a@example.com", ["b@example.com"], connection=connection
                ).send()
            assert "QUIT" not in smtp_plain.recorder.commands  # still open inside
        assert smtp_plain.recorder.commands.count("QUIT") == 1
    assert len(smtp_plain.messages) == 3
    assert smtp_plain.recorder.connections == 1


def test_mail_admins_over_starttls_with_auth(smtp_starttls: SMTPServer, smtp_ca: TestCA) -> None:
    url = (
        f"smtp://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{smtp_starttls.port}"
        f"?ca_file={smtp_ca.ca_file}"
    )
    with override_settings(UNISEND_URL=None, UNISEND={"URL": url, "RETRY": {"attempts": 1}}):
        mail.mail_admins("Disk full", "df says 100%")
    (received,) = smtp_starttls.messages
    assert received.mail_from == "server@example.com"
    assert received.rcpt_tos == ["ada@example.com", "bo@example.com"]
    assert received.parsed()["Subject"] == "[Django] Disk full"
    assert smtp_starttls.recorder.commands[:3] == ["EHLO", "STARTTLS", "EHLO"]
    assert smtp_starttls.recorder.auth[-1][2] is True


def test_multi_alternatives_on_the_wire(smtp_plain: SMTPServer) -> None:
    msg = EmailMultiAlternatives(
        "Report",
        "text",
        "Ann <ann@example.com>",
        ["bob@example.com"],
        cc=["carl@example.com"],
        bcc=["dora@example.com"],
        reply_to=["help@example.com"],
        headers={"X-Campaign": "spring"},
    )
    msg.attach_alternative('<p><img src="cid:logo@example.com"></p>', "text/html")
    image = MIMEImage(PNG, "png")
    image.add_header("Content-ID", "<logo@example.com>")
    msg.attach(image)
    msg.attach("data.bin", b"\x00\x01\xfe\xff", "application/octet-stream")
    with override_settings(UNISEND_URL=_smtp_url(smtp_plain)):
        assert msg.send() == 1
    (received,) = smtp_plain.messages
    assert received.rcpt_tos == ["bob@example.com", "carl@example.com", "dora@example.com"]
    parsed = received.parsed()
    assert parsed["Bcc"] is None  # blind copies stay blind
    assert (parsed["Cc"], parsed["Reply-To"], parsed["X-Campaign"]) == (
        "carl@example.com",
        "help@example.com",
        "spring",
    )
    assert parsed["Message-ID"] == msg.unisend_result.message_id  # type: ignore[attr-defined]
    parts = {p.get_content_type(): p for p in parsed.walk()}
    assert parts["image/png"]["Content-ID"] == "<logo@example.com>"
    assert parts["image/png"].get_content() == PNG
    assert parts["application/octet-stream"].get_content() == b"\x00\x01\xfe\xff"
    assert "multipart/related" in parts  # the inline image sits with the html


def test_fail_silently_over_smtp_counts_only_accepted(
    smtp_server_factory: Callable[..., SMTPServer],
) -> None:
    server = smtp_server_factory(faults=Faults(rcpt={"nobody@example.com": "550 5.1.1 unknown"}))
    messages = [
        EmailMessage("ok", "b", "a@example.com", ["bob@example.com"]),
        EmailMessage("bad", "b", "a@example.com", ["nobody@example.com"]),
        EmailMessage("ok2", "b", "a@example.com", ["carl@example.com"]),
    ]
    with override_settings(UNISEND_URL=_smtp_url(server)):
        assert mail.get_connection(fail_silently=True).send_messages(messages) == 2
        assert isinstance(messages[1].unisend_error, MessageRejected)  # type: ignore[attr-defined]
        with pytest.raises(MessageRejected):
            mail.send_mail("bad", "b", "a@example.com", ["nobody@example.com"])
    assert [m.rcpt_tos for m in server.messages] == [["bob@example.com"], ["carl@example.com"]]


def test_send_mail_through_the_http_stub(stub: HttpStub) -> None:
    url = f"sendgrid://SG.test-key@default?base_url={stub.url}"
    with override_settings(UNISEND_URL=url):
        assert mail.send_mail("Hi", "body", "a@example.com", ["b@example.com"]) == 1
        msg = EmailMessage("Hi 2", "body", "a@example.com", ["c@example.com"])
        msg.send()
    assert msg.unisend_result.transport == "sendgrid"  # type: ignore[attr-defined]
    assert stub.stats()["by_route"] == {"sendgrid": 2}


def test_http_stub_failure_is_raised_or_silenced(stub: HttpStub) -> None:
    url = f"postmark://token@default?base_url={stub.fault_url(422)}"
    with override_settings(UNISEND_URL=None, UNISEND={"URL": url, "RETRY": {"attempts": 1}}):
        with pytest.raises(SendError):
            mail.send_mail("Hi", "body", "a@example.com", ["b@example.com"])
        assert (
            mail.send_mail("Hi", "body", "a@example.com", ["b@example.com"], fail_silently=True)
            == 0
        )


def test_forwarded_message_part_is_attached_as_eml() -> None:
    from email.mime.message import MIMEMessage

    inner = EmailMessage("Original", "first mail", "x@example.com", ["y@example.com"])
    msg = EmailMessage("Fwd", "see attached", "a@example.com", ["b@example.com"])
    msg.attach(MIMEMessage(inner.message()))
    (attachment,) = to_message(msg).attachments
    assert attachment.mimetype == "message/rfc822"
    assert attachment.filename.endswith(".eml")
    assert b"Subject: Original" in attachment.content and b"first mail" in attachment.content


@pytest.mark.parametrize(
    ("url", "secret", "words"),
    [
        ("smtp://AKIA:BH4x/yz+SECRET@email-smtp.example.com:587", "BH4x/yz+SECRET", "%2F"),
        ("sendgrid://SG.ab/cd@default", "SG.ab/cd", "%2F"),
        ("smtp://user:pw-77@[::1", "pw-77", "brackets"),
    ],
)
def test_a_bad_url_at_start_up_never_shows_the_secret(url: str, secret: str, words: str) -> None:
    with override_settings(UNISEND_URL=url), pytest.raises(ConfigurationError) as caught:
        mail.send_mail("S", "b", "a@example.com", ["b@example.com"], fail_silently=True)
    assert words in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
