"""Header injection is impossible from any field; secrets never leak."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers.smtp import PASSWORD, SMTPServer

from unisend import (
    Address,
    Attachment,
    AuthenticationError,
    InvalidMessage,
    Mailer,
    Message,
    SendError,
    from_url,
)
from unisend.transports.smtp import SMTPTransport

TransportFor = Callable[..., SMTPTransport]

# Every Cc character except TAB, plus the line and paragraph separators.
controls = st.characters(categories=["Cc"]).filter(lambda c: c != "\t") | st.sampled_from(
    ["\u2028", "\u2029"]
)


def _base(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "sender": "Ann <ann@example.com>",
        "to": ["bob@example.com"],
        "subject": "Hi",
        "text": "x",
    }
    fields.update(overrides)
    return Message(**fields)


def _inject(field: str, bad: str) -> Message:
    """Build a message with ``bad`` placed in one header-bearing field."""
    builders: dict[str, Callable[[], Message]] = {
        "subject": lambda: _base(subject=f"Hello{bad}Bcc: victim@example.com"),
        "header name": lambda: _base(headers={f"X-A{bad}B": "v"}),
        "header value": lambda: _base(headers={"X-A": f"v{bad}Bcc: victim@example.com"}),
        "sender name": lambda: _base(sender=f"Ann{bad}X <ann@example.com>"),
        "sender address": lambda: _base(sender=f"ann{bad}@example.com"),
        "to name": lambda: _base(to=[Address("bob@example.com", f"Bob{bad}")]),
        "to address": lambda: _base(to=[f"bob@exa{bad}mple.com"]),
        "cc address": lambda: _base(cc=[f"c{bad}c@example.com"]),
        "bcc address": lambda: _base(bcc=[f"<d@example.com>{bad}"]),
        "reply_to": lambda: _base(reply_to=[f"R{bad} <r@example.com>"]),
        "filename": lambda: _base(attachments=[Attachment(f"a{bad}.pdf", b"x")]),
        "content_id": lambda: _base(
            html="<img src=cid:x>",
            attachments=[Attachment("a.png", b"x", inline=True, content_id=f"x{bad}y")],
        ),
        "tag": lambda: _base(tags=[f"t{bad}"]),
        "metadata key": lambda: _base(metadata={f"k{bad}": "v"}),
        "metadata value": lambda: _base(metadata={"k": f"v{bad}"}),
    }
    return builders[field]()


FIELDS = [
    "subject",
    "header name",
    "header value",
    "sender name",
    "sender address",
    "to name",
    "to address",
    "cc address",
    "bcc address",
    "reply_to",
    "filename",
    "content_id",
    "tag",
    "metadata key",
    "metadata value",
]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(field=st.sampled_from(FIELDS), bad=controls)
def test_control_characters_never_reach_the_wire(
    smtp_plain: SMTPServer, transport_for: TransportFor, field: str, bad: str
) -> None:
    mailer = Mailer(transport_for(smtp_plain))
    with pytest.raises(InvalidMessage) as caught:
        mailer.send(_inject(field, bad))
    assert isinstance(caught.value, ValueError)
    assert smtp_plain.recorder.connections == 0
    assert smtp_plain.messages == []


@pytest.mark.parametrize("field", FIELDS)
def test_every_field_rejects_crlf(field: str) -> None:
    with pytest.raises(InvalidMessage):
        _inject(field, "\r\n")


def test_tab_is_allowed_in_subject_and_header_values(
    smtp_plain: SMTPServer, transport_for: TransportFor
) -> None:
    transport_for(smtp_plain).send(_base(subject="a\tb", headers={"X-T": "c\td"}))
    parsed = smtp_plain.messages[0].parsed()
    assert (parsed["subject"], parsed["x-t"]) == ("a\tb", "c\td")


def test_password_never_appears_in_repr_str_logs_or_errors(
    smtp_starttls: SMTPServer,
    transport_for: TransportFor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "Wr0ng-" + PASSWORD
    caplog.set_level(logging.DEBUG)
    transport = transport_for(smtp_starttls, password=secret)
    texts = [repr(transport), str(transport)]
    assert f"{smtp_starttls.host}:{smtp_starttls.port}" in repr(transport)
    assert "security=starttls" in repr(transport)
    with pytest.raises(AuthenticationError) as caught:
        Mailer(transport).send(_base())
    error: SendError = caught.value
    texts += [str(error), repr(error), str(error.__cause__), repr(Mailer(transport))]
    url = f"smtp://user:{secret}@127.0.0.1:{smtp_starttls.port}"
    texts += [repr(from_url(url)), str(from_url(url))]
    texts.append(caplog.text)
    for text in texts:
        assert secret not in text
        assert PASSWORD not in text
    assert "unisend.smtp" in {record.name for record in caplog.records}


def test_repr_shows_no_credentials() -> None:
    transport = SMTPTransport(
        "smtp.example.com", 465, username="u", password="hunter2-xyz", security="ssl"
    )
    assert repr(transport) == "<SMTPTransport name='smtp' smtp.example.com:465 security=ssl>"
