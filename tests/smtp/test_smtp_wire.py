"""What the server receives, parsed by the stdlib parser and compared field by field."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from servers.smtp import SMTPServer

from unisend import Attachment, Message
from unisend.transports.smtp import SMTPTransport

TransportFor = Callable[..., SMTPTransport]

LONG_SUBJECT = "Rückmeldung zur Bestellung \u2013 bitte prüfen: " * 5 + "Ende"
PDF = bytes(range(256)) * 64
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
FILENAME = "Jahresübersicht für Müller & Söhne \u2013 März 2026, endgültige Fassung.pdf"


def test_received_message_matches_field_by_field(
    smtp_starttls: SMTPServer, transport_for: TransportFor
) -> None:
    message = Message(
        sender="Zoë Ünal <zoe@bücher.example>",
        to=["Jörg Müller <joerg@münchen.example>", '"Smith, John" <john@example.com>'],
        cc=["Ann <ann@example.com>"],
        bcc=["Hidden Person <hidden@example.com>"],
        reply_to=["Support <help@example.com>"],
        subject=LONG_SUBJECT,
        text="Grüße\n.a line starting with a dot\nend",
        html='<p>Grüße <img src="cid:logo@x"></p>',
        attachments=[
            Attachment(FILENAME, PDF),
            Attachment("logo.png", PNG, inline=True, content_id="logo@x"),
        ],
        headers={"X-Campaign": "Frühling 2026"},
    )
    result = transport_for(smtp_starttls).send(message)

    (received,) = smtp_starttls.messages
    # envelope: punycode domains, Bcc only here
    assert received.mail_from == "zoe@xn--bcher-kva.example"
    assert received.rcpt_tos == [
        "joerg@xn--mnchen-3ya.example",
        "john@example.com",
        "ann@example.com",
        "hidden@example.com",
    ]
    assert received.data.isascii()
    assert b"hidden@example.com" not in received.data

    parsed = received.parsed()
    assert parsed["subject"] == LONG_SUBJECT
    assert parsed["message-id"] == result.message_id
    assert result.message_id is not None
    assert result.message_id.endswith("@xn--bcher-kva.example>")
    assert parsed["bcc"] is None
    sender = parsed["from"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Zoë Ünal", "zoe@xn--bcher-kva.example")
    assert [(a.display_name, a.addr_spec) for a in parsed["to"].addresses] == [
        ("Jörg Müller", "joerg@xn--mnchen-3ya.example"),
        ("Smith, John", "john@example.com"),
    ]
    assert [a.addr_spec for a in parsed["cc"].addresses] == ["ann@example.com"]
    assert [a.addr_spec for a in parsed["reply-to"].addresses] == ["help@example.com"]
    assert parsed["x-campaign"] == "Frühling 2026"
    assert parsed["date"].datetime.tzinfo is not None

    assert parsed.get_content_type() == "multipart/mixed"
    body, attachment = parsed.iter_parts()
    plain, related = body.iter_parts()
    text = plain.get_content()
    assert text.replace("\r\n", "\n") == "Grüße\n.a line starting with a dot\nend"
    html, image = related.iter_parts()
    assert related.get_content_type() == "multipart/related"
    assert "cid:logo@x" in html.get_content()
    assert image["content-id"] == "<logo@x>"
    assert image.get_payload(decode=True) == PNG
    assert attachment.get_filename() == FILENAME
    assert attachment.get_payload(decode=True) == PDF

    lines = received.data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert b"\n" not in received.data.replace(b"\r\n", b"")


def test_send_at_is_refused_before_any_connection(smtp_plain: SMTPServer) -> None:
    from datetime import datetime, timezone

    from unisend import InvalidMessage

    transport = SMTPTransport(smtp_plain.host, smtp_plain.port, security="none")
    message = Message(
        sender="a@example.com",
        to="b@example.com",
        text="later",
        send_at=datetime(2030, 1, 1, tzinfo=timezone.utc),
    )
    with pytest.raises(InvalidMessage, match="send_at"):
        transport.send(message)
    assert smtp_plain.messages == []
    assert smtp_plain.recorder.connections == 0
