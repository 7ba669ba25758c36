"""DKIM signing, checked by an independent verifier (dkimpy) against the public key we
publish: RSA 2048 and Ed25519, small and chunked (large) messages, through a loopback
SMTP server, and tampering that must break the signature."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from servers.smtp import SMTPServer

from unisend import DKIM, Attachment, ConfigurationError, Message, from_url
from unisend._dkim import DEFAULT_HEADERS, _RelaxedBody
from unisend._mime import render
from unisend.transports.smtp import SMTPTransport

Factory = Callable[..., SMTPServer]
TransportFor = Callable[..., SMTPTransport]
MakeMessage = Callable[..., Message]


def _pem(key: Any) -> bytes:
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ed25519_pem() -> bytes:
    return _pem(ed25519.Ed25519PrivateKey.generate())


@pytest.fixture(params=["rsa-sha256", "ed25519-sha256"])
def signer(request: pytest.FixtureRequest, rsa_pem: bytes, ed25519_pem: bytes) -> DKIM:
    pem = rsa_pem if request.param == "rsa-sha256" else ed25519_pem
    return DKIM("example.com", "mail2026", pem, algorithm=request.param)


def verifies(data: bytes, signer: DKIM) -> bool:
    """dkimpy's verdict, with the TXT record at the signer's DNS name as the only DNS."""
    record = signer.dns_record().encode()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name.decode().rstrip(".") == signer.dns_name
        return record

    return bool(dkim.verify(data, dnsfunc=dns))


def signed(message: Message, signer: DKIM) -> bytes:
    return b"".join(signer.sign_chunks(render(message).chunks))


def test_a_signed_message_verifies(signer: DKIM, make_message: MakeMessage) -> None:
    data = signed(make_message(cc=["carol@example.org"], reply_to=["r@example.com"]), signer)
    assert data.startswith(b"DKIM-Signature: v=1; a=" + signer.algorithm.encode())
    assert verifies(data, signer)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))  # folded
    tags = dict(
        part.strip().split("=", 1)
        for part in data.split(b"\r\n\r\n")[0].decode().split("DKIM-Signature:")[1].split(";")
        if "=" in part and not part.strip().startswith(("From", "To"))
    )
    assert tags["c"] == "relaxed/relaxed" and tags["d"] == "example.com"
    signed_names = tags["h"].replace("\r\n", "").replace(" ", "").lower().split(":")
    assert signed_names.count("from") == 2  # oversigned
    for name in ("to", "cc", "subject", "date", "message-id", "reply-to", "content-type"):
        assert name in signed_names


def test_a_tampered_body_fails(signer: DKIM, make_message: MakeMessage) -> None:
    data = signed(make_message(text="Pay invoice 1234 to account A"), signer)
    assert verifies(data, signer)
    assert not verifies(data.replace(b"account A", b"account B"), signer)


def test_a_tampered_header_or_an_added_from_fails(signer: DKIM, make_message: MakeMessage) -> None:
    data = signed(make_message(subject="Quarterly report"), signer)
    assert not verifies(data.replace(b"Quarterly report", b"Quarterly rep0rt"), signer)
    head, body = data.split(b"\r\n\r\n", 1)
    assert not verifies(head + b"\r\nFrom: mallory@evil.example\r\n\r\n" + body, signer)


def test_relaxed_changes_in_transit_still_verify(signer: DKIM, make_message: MakeMessage) -> None:
    data = signed(make_message(subject="Hello there", text="line one\r\nline two"), signer)
    # what relaxed canonicalization forgives: header case, whitespace runs, trailing
    # whitespace, extra empty lines at the end of the body
    changed = data.replace(b"Subject: Hello there", b"subject:  Hello   there ")
    changed = changed.replace(b"line one", b"line  one \t") + b"\r\n\r\n"
    assert verifies(changed, signer)


def test_a_large_chunked_message_verifies(signer: DKIM, make_message: MakeMessage) -> None:
    blob = random.Random(7).randbytes(3 * 1024 * 1024)
    message = make_message(attachments=[Attachment(filename="data.bin", content=blob)])
    chunks = render(message).chunks
    assert len(chunks) > 2  # the large-message renderer's pieces
    out = signer.sign_chunks(chunks)
    assert out[1:] == chunks[1:]  # only the head chunk changed: no copy of the body
    assert all(a is b for a, b in zip(out[1:], chunks[1:], strict=True))
    assert verifies(b"".join(out), signer)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\r\n",
        b"\r\n\r\n\r\n",
        b"a",
        b"a \t b  \r\n\r\n  \r\n",
        b" leading\r\n\tand tabs\t\t\r\ntrailing   ",
        b"x\r\n\r\ny\r\n\r\n\r\n",
        b"no final newline",
    ],
)
def test_body_hash_matches_dkimpy_at_every_split(body: bytes) -> None:
    """The streaming canonicalizer against dkimpy's, with the body cut at every offset."""
    from dkim.canonicalization import Relaxed

    expected = _sha256(Relaxed.canonicalize_body(body))
    for cut in range(len(body) + 1):
        for second in (cut, min(cut + 1, len(body)), len(body)):
            hasher = _RelaxedBody()
            hasher.update(body[:cut])
            hasher.update(body[cut:second])
            hasher.update(body[second:])
            assert hasher.digest() == expected, (body, cut, second)


def _sha256(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()


def test_sign_one_message_of_bytes(signer: DKIM, make_message: MakeMessage) -> None:
    data = render(make_message()).data
    assert verifies(signer.sign(data) + data, signer)


# -- through SMTP --------------------------------------------------------------------------


def test_the_transport_signs_what_it_sends(
    smtp_plain: SMTPServer,
    transport_for: TransportFor,
    make_message: MakeMessage,
    signer: DKIM,
) -> None:
    blob = random.Random(3).randbytes(2 * 1024 * 1024)
    transport = transport_for(smtp_plain, dkim=signer)
    transport.send(make_message(text=".leading dot\r\n.and another"))
    transport.send(make_message(attachments=[Attachment(filename="a.bin", content=blob)]))
    assert len(smtp_plain.messages) == 2
    for received in smtp_plain.messages:
        assert received.data.startswith(b"DKIM-Signature:")
        assert verifies(received.data, signer)
        received_sizes = [o for o in received.mail_options if o.startswith("SIZE=")]
        assert received_sizes == [f"SIZE={len(received.data)}"] or not received_sizes


def test_dkim_from_a_url(
    smtp_plain: SMTPServer, tmp_path: Path, rsa_pem: bytes, make_message: MakeMessage
) -> None:
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(rsa_pem)
    url = (
        f"smtp://127.0.0.1:{smtp_plain.port}?security=none"
        f"&dkim_domain=example.com&dkim_selector=s1&dkim_key_file={key_file}"
    )
    transport = from_url(url)
    try:
        assert isinstance(transport, SMTPTransport) and transport.dkim is not None
        transport.send(make_message())
    finally:
        transport.close()
    assert verifies(smtp_plain.messages[0].data, transport.dkim)


def test_dkim_url_needs_all_three(smtp_plain: SMTPServer) -> None:
    with pytest.raises(ConfigurationError, match="missing dkim_key_file"):
        from_url("smtp://127.0.0.1:2525?security=none&dkim_domain=a.com&dkim_selector=s")


# -- keys and options ----------------------------------------------------------------------


def test_key_from_text_bytes_or_path(rsa_pem: bytes, tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(rsa_pem)
    records = {
        DKIM("example.com", "s", source).dns_record()
        for source in (rsa_pem, rsa_pem.decode(), path, str(path))
    }
    assert len(records) == 1
    record = records.pop()
    assert record.startswith("v=DKIM1; k=rsa; p=")
    public = serialization.load_der_public_key(base64.b64decode(record.split("p=")[1]))
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048


def test_ed25519_record_is_the_raw_key(ed25519_pem: bytes) -> None:
    signer = DKIM("example.com", "ed", ed25519_pem, algorithm="ed25519-sha256")
    record = signer.dns_record()
    assert record.startswith("v=DKIM1; k=ed25519; p=")
    assert len(base64.b64decode(record.split("p=")[1])) == 32
    assert signer.dns_name == "ed._domainkey.example.com"


def test_repr_shows_no_key(rsa_pem: bytes) -> None:
    signer = DKIM("example.com", "s", rsa_pem)
    assert repr(signer) == "DKIM(domain='example.com', selector='s', algorithm='rsa-sha256')"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"algorithm": "rsa-sha1"}, "not one of"),
        ({"algorithm": "ed25519-sha256"}, "not an Ed25519 key"),
        ({"headers": ["To", "Subject"]}, "must include 'From'"),
        ({"headers": ["From", "Bad Name"]}, "invalid header names"),
    ],
)
def test_bad_options(rsa_pem: bytes, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        DKIM("example.com", "s", rsa_pem, **kwargs)


def test_bad_keys_never_echo_the_key(rsa_pem: bytes, tmp_path: Path) -> None:
    broken = rsa_pem.replace(b"A", b"*", 40)
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM") as caught:
        DKIM("example.com", "s", broken)
    assert caught.value.__context__ is None or b"*" not in str(caught.value).encode()
    assert rsa_pem.decode().splitlines()[1] not in str(caught.value)
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigurationError, match="cannot read the DKIM private key file"):
        DKIM("example.com", "s", missing)
    with pytest.raises(ConfigurationError, match="not a valid DNS name"):
        DKIM("exa mple.com", "s", rsa_pem)


def test_custom_header_list_is_signed(rsa_pem: bytes, make_message: MakeMessage) -> None:
    signer = DKIM("example.com", "s", rsa_pem, headers=["From", "Subject", "X-Campaign"])
    data = signed(make_message(headers={"X-Campaign": "spring"}), signer)
    assert b"h=From:Subject:X-Campaign:From;" in data
    assert verifies(data, signer)
    assert not verifies(data.replace(b"X-Campaign: spring", b"X-Campaign: autumn"), signer)


def test_default_headers_cover_what_matters() -> None:
    lowered = {name.lower() for name in DEFAULT_HEADERS}
    expected = {"from", "to", "cc", "subject", "date", "message-id", "reply-to"}
    assert expected | {"mime-version", "content-type"} <= lowered


def test_transport_refuses_something_else_as_dkim() -> None:
    with pytest.raises(ConfigurationError, match=r"unisend\.DKIM"):
        SMTPTransport("smtp.example.com", dkim="example.com")  # type: ignore[arg-type]
