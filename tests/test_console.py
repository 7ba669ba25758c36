"""``console://``: prints the message readably, never attachments' base64 or secrets."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import pytest

from unisend import Attachment, InvalidMessage, Mailer, Message
from unisend.transports.console import SEPARATOR, ConsoleTransport

MakeMessage = Callable[..., Message]
PAYLOAD = bytes(range(256)) * 8


def test_prints_headers_and_bodies(make_message: MakeMessage) -> None:
    stream = io.StringIO()
    result = ConsoleTransport(stream).send(
        make_message(
            subject="Grüße aus Köln",
            text="Plain body line",
            html="<p>Html body</p>",
            cc="Cara <cara@example.com>",
            headers={"X-Campaign": "spring"},
        )
    )
    out = stream.getvalue()
    assert out.startswith(SEPARATOR + "\n")
    assert out.rstrip("\n").endswith(SEPARATOR)
    assert "Subject: Grüße aus Köln" in out  # decoded, not RFC 2047
    assert "=?utf-8?" not in out
    assert "From: Ann Sender <ann@example.com>" in out
    assert "To: Bob <bob@example.com>" in out
    assert "Cc: Cara <cara@example.com>" in out
    assert "X-Campaign: spring" in out
    assert "[text/plain]\nPlain body line" in out
    assert "[text/html]\n<p>Html body</p>" in out
    assert f"Message-ID: {result.message_id}" in out
    assert result.transport == "console"


def test_attachments_are_summarised_not_dumped(make_message: MakeMessage) -> None:
    stream = io.StringIO()
    ConsoleTransport(stream).send(
        make_message(
            html='<img src="cid:logo1">',
            attachments=[
                Attachment("report.pdf", PAYLOAD),
                Attachment("logo.png", b"\x89PNG" + PAYLOAD, "image/png", True, "logo1"),
            ],
        )
    )
    out = stream.getvalue()
    assert f"[attachment] report.pdf (application/pdf, {len(PAYLOAD)} bytes)" in out
    assert f"[inline] logo.png (image/png, {len(PAYLOAD) + 4} bytes, cid <logo1>)" in out
    encoded = base64.b64encode(PAYLOAD).decode()
    assert encoded[:60] not in out
    for line in base64.encodebytes(PAYLOAD).decode().splitlines()[:3]:
        assert line not in out
    assert len(out) < 2000


def test_bcc_shown_as_envelope_only(make_message: MakeMessage) -> None:
    stream = io.StringIO()
    ConsoleTransport(stream).send(make_message(bcc="hidden@example.com"))
    out = stream.getvalue()
    assert "Bcc (envelope only): hidden@example.com" in out
    assert "\nBcc: " not in out


def test_provider_options_and_metadata_are_not_printed(make_message: MakeMessage) -> None:
    stream = io.StringIO()
    ConsoleTransport(stream).send(
        make_message(
            provider_options={"sendgrid": {"api_key": "SG.very-secret-value"}},
            metadata={"internal": "meta-value-xyz"},
        )
    )
    out = stream.getvalue()
    assert "SG.very-secret-value" not in out
    assert "meta-value-xyz" not in out
    assert "Hello Bob" in out


def test_default_stream_is_stdout_at_send_time(
    make_message: MakeMessage, capsys: pytest.CaptureFixture[str]
) -> None:
    transport = ConsoleTransport()
    capsys.readouterr()
    Mailer(transport).send(make_message(subject="to stdout"))
    Mailer("console://").send(make_message(subject="via url"))
    out = capsys.readouterr().out
    assert "Subject: to stdout" in out
    assert "Subject: via url" in out
    assert out.count(SEPARATOR) == 4


def test_template_messages_show_the_template(make_message: MakeMessage) -> None:
    stream = io.StringIO()
    ConsoleTransport(stream).send(
        make_message(text=None, template_id="welcome-v2", template_data={"first": "Bob"})
    )
    out = stream.getvalue()
    assert "Template: welcome-v2" in out
    assert 'Template data: {"first": "Bob"}' in out


def test_send_without_sender_is_invalid() -> None:
    stream = io.StringIO()
    with pytest.raises(InvalidMessage, match="sender"):
        ConsoleTransport(stream).send(Message(to="bob@example.com", text="hi"))
    assert stream.getvalue() == ""


async def test_asend(make_message: MakeMessage) -> None:
    stream = io.StringIO()
    result = await ConsoleTransport(stream, name="screen").asend(make_message(subject="async"))
    assert result.transport == "screen"
    assert "Subject: async" in stream.getvalue()


def test_repr() -> None:
    assert repr(ConsoleTransport()) == "<ConsoleTransport name='console' stream=stdout>"
    assert "StringIO" in repr(ConsoleTransport(io.StringIO()))


def test_stream_query_parameter_is_refused() -> None:
    from unisend import ConfigurationError, from_url

    with pytest.raises(ConfigurationError, match="stdout"):
        from_url("console://?stream=stderr")
