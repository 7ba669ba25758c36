"""Against a real Postfix 3 with Cyrus SASL (tests/servers/postfix.py), started once for
this module on loopback ports: each AUTH mechanism forced (and checked in Postfix's own
log), a non-ASCII password, one failed login per wrong password, STARTTLS and implicit
TLS, delivery into a Maildir checked field by field, and a DKIM signature that still
verifies on the delivered copy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from servers.postfix import ACCOUNTS, Postfix, unavailable_reason

from unisend import DKIM, Address, Attachment, AuthenticationError, Message
from unisend.transports.smtp import SMTPTransport

ANN = "ann@example.net"
JOERG = "joerg@example.net"


@pytest.fixture(scope="session")
def postfix() -> Iterator[Postfix]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"NO REAL POSTFIX TESTS: {reason}")
    with Postfix() as server:
        yield server


def transport(postfix: Postfix, *, implicit: bool = False, **kwargs: Any) -> SMTPTransport:
    options: dict[str, Any] = {
        "username": ANN,
        "password": ACCOUNTS[ANN],
        "ca_file": postfix.ca_file,
        "timeout": 10.0,
    }
    options.update(kwargs)
    if implicit:
        return SMTPTransport(postfix.host, postfix.smtps_port, security="ssl", **options)
    return SMTPTransport(postfix.host, postfix.submission_port, **options)


def send(postfix: Postfix, message: Message, **kwargs: Any) -> tuple[str, str]:
    """Send ``message``; (its Message-ID, Postfix's log of that session)."""
    mark = postfix.log_mark()
    with transport(postfix, **kwargs) as route:
        result = route.send(message)
    assert result.message_id is not None
    log = postfix.wait_for_log("disconnect from", mark)
    return result.message_id, log


def simple(subject: str, **overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "sender": f"Ann <{ANN}>",
        "to": ["bob@example.net"],
        "subject": subject,
        "text": f"Body of {subject}",
    }
    fields.update(overrides)
    return Message(**fields)


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5"])
def test_each_mechanism_forced(postfix: Postfix, mechanism: str) -> None:
    message_id, log = send(postfix, simple(f"forced {mechanism}"), auth=mechanism)
    assert f"sasl_method={mechanism.upper()}, sasl_username={ANN}" in log
    assert "TLS connection established from" in log
    assert "starttls=1" in log and "quit=1" in log
    delivered = postfix.parse(postfix.wait_for_message("bob", message_id))
    assert delivered["Subject"] == f"forced {mechanism}"


def test_automatic_choice_is_cram_md5(postfix: Postfix) -> None:
    _, log = send(postfix, simple("automatic"))
    assert f"sasl_method=CRAM-MD5, sasl_username={ANN}" in log


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5"])
def test_a_non_ascii_password(postfix: Postfix, mechanism: str) -> None:
    message = simple(f"utf-8 password {mechanism}", sender=JOERG)
    message_id, log = send(
        postfix, message, username=JOERG, password=ACCOUNTS[JOERG], auth=mechanism
    )
    assert f"sasl_method={mechanism.upper()}, sasl_username={JOERG}" in log
    postfix.wait_for_message("bob", message_id)


@pytest.mark.parametrize("mechanism", [None, "plain", "login", "cram-md5"])
def test_a_wrong_password_is_one_failed_login_in_postfixs_log(
    postfix: Postfix, mechanism: str | None
) -> None:
    wrong = "not-the-Passw0rd"
    mark = postfix.log_mark()
    with (
        transport(postfix, password=wrong, auth=mechanism) as route,
        pytest.raises(AuthenticationError) as caught,
    ):
        route.send(simple("never sent"))
    assert caught.value.status_code == 535
    assert wrong not in str(caught.value)
    log = postfix.wait_for_log("disconnect from", mark)
    failures = re.findall(r"SASL (\S+) authentication failed", log)
    assert len(failures) == 1, log
    assert failures[0] == (mechanism or "cram-md5").upper()
    # "auth=0/1": one AUTH command, refused; QUIT said (no "lost connection after AUTH")
    assert re.search(r"disconnect from \S+ .*auth=0/1 quit=1", log), log
    assert "lost connection" not in log


def test_implicit_tls(postfix: Postfix) -> None:
    message_id, log = send(postfix, simple("over smtps"), implicit=True)
    assert "TLS connection established from" in log and "TLSv1.3" in log
    disconnect = log.split("disconnect from", 1)[1]
    assert "starttls" not in disconnect and "auth=1" in disconnect  # TLS from the first byte
    postfix.wait_for_message("bob", message_id)


def test_delivery_field_by_field(postfix: Postfix) -> None:
    picture = bytes(range(256)) * 40
    message = Message(
        sender=Address(email=ANN, name="Ann Sender"),
        to=[Address(email="bob@example.net", name="Bob Receiver")],
        cc=["carol@example.net"],
        bcc=["carol@example.net"],
        reply_to=["replies@example.net"],
        subject="Grüße — field by field ✓",
        text="Hello Bob,\nthe plain part.\n.a line that starts with a dot",
        html="<p>Hello <b>Bob</b></p>",
        headers={"X-Campaign": "spring-2026"},
        attachments=[Attachment(filename="report.bin", content=picture, content_type="image/png")],
    )
    message_id, _ = send(postfix, message)
    for mailbox in ("bob", "carol"):
        delivered = postfix.parse(postfix.wait_for_message(mailbox, message_id))
        assert delivered["Message-ID"] == message_id
        assert delivered["Subject"] == "Grüße — field by field ✓"
        assert delivered["From"].addresses[0].display_name == "Ann Sender"
        assert delivered["From"].addresses[0].addr_spec == ANN
        assert delivered["To"].addresses[0].display_name == "Bob Receiver"
        assert delivered["To"].addresses[0].addr_spec == "bob@example.net"
        assert delivered["Cc"].addresses[0].addr_spec == "carol@example.net"
        assert delivered["Reply-To"].addresses[0].addr_spec == "replies@example.net"
        assert delivered["X-Campaign"] == "spring-2026"
        assert delivered["Date"] is not None
        assert delivered["Bcc"] is None  # Bcc only in the envelope
        assert delivered["Delivered-To"] == f"{mailbox}@example.net"
        assert delivered["Return-Path"] == f"<{ANN}>"
        text = delivered.get_body(("plain",))
        html = delivered.get_body(("html",))
        assert text is not None and html is not None
        assert text.get_content().replace("\r\n", "\n").rstrip("\n") == (
            "Hello Bob,\nthe plain part.\n.a line that starts with a dot"
        )
        assert html.get_content().strip() == "<p>Hello <b>Bob</b></p>"
        attachments = list(delivered.iter_attachments())
        assert [a.get_filename() for a in attachments] == ["report.bin"]
        assert attachments[0].get_content_type() == "image/png"
        assert attachments[0].get_content() == picture


def test_unknown_recipient_is_reported_and_the_rest_delivered(postfix: Postfix) -> None:
    with transport(postfix) as route:
        result = route.send(simple("partly", to=["bob@example.net", "nobody@example.net"]))
    assert list(result.rejected) == ["nobody@example.net"]
    assert result.rejected["nobody@example.net"].startswith("550 5.1.1")
    assert result.message_id is not None
    postfix.wait_for_message("bob", result.message_id)


def _pem(key: Any) -> bytes:
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


@pytest.mark.parametrize("algorithm", ["rsa-sha256", "ed25519-sha256"])
def test_dkim_signature_survives_postfix(postfix: Postfix, algorithm: str) -> None:
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "rsa-sha256"
        else ed25519.Ed25519PrivateKey.generate()
    )
    signer = DKIM("example.net", "pf", _pem(key), algorithm=algorithm)
    message = simple(
        "signed through Postfix",
        text="Dear Bob,\n\nsigned   text   with  spaces \n.and a dot line\n",
        html="<p>signed</p>",
    )
    message_id, _ = send(postfix, message, dkim=signer)
    raw = postfix.wait_for_message("bob", message_id)
    record = signer.dns_record().encode()
    assert raw.index(b"DKIM-Signature:") > raw.index(b"Received:")  # Postfix added headers
    # the Maildir copy has LF line ends; a verifier reads it as the message it is
    data = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert dkim.verify(data, dnsfunc=lambda name, timeout=5: record)
    tampered = data.replace(b"signed   text", b"signed   t3xt")
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)
