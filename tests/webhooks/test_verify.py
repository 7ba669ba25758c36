"""Verification before parsing, over the raw bytes: SendGrid's ECDSA signature (the
published vector and keys generated here), Mailtrap's HMAC (the cross-SDK vector), basic
auth and bearer tokens with rotation, and the configuration errors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from unisend import ConfigurationError
from unisend.webhooks import EventType, RejectReason, WebhookAuthError, WebhookError, parse_events

POSTMARK_DELIVERY = (
    b'{"RecordType":"Delivery","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483",'
    b'"Recipient":"john@example.com","DeliveredAt":"2019-11-05T16:33:54.9070259Z"}'
)
SECRET_WORDS = ("s3cret-pass", "brevo-token-123", "8d9a3c0e7f5b2d4a6c1e9f8b3a7d5c2e")


def assert_no_secret(error: BaseException) -> None:
    """The message and the exception chain carry no credential."""
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    for word in SECRET_WORDS:
        assert word not in str(error)


# ------------------------------------------------------------ SendGrid (ECDSA P-256)


def sg_vector_headers(vector: dict[str, Any]) -> dict[str, str]:
    return {
        "X-Twilio-Email-Event-Webhook-Signature": vector["signature"],
        "X-Twilio-Email-Event-Webhook-Timestamp": vector["timestamp"],
    }


def test_sendgrid_published_vector_verifies_and_parses(vectors: dict[str, Any]) -> None:
    vector = vectors["sendgrid"]
    body = vector["body"].encode()
    events = parse_events(
        "sendgrid", body, sg_vector_headers(vector), verification_key=vector["public_key"]
    )
    assert [(e.type, e.reject_reason, e.message_id) for e in events] == [
        (EventType.rejected, RejectReason.bounced, "LRzXl_NHStOGhQ4kofSm_A")
    ]


def test_sendgrid_vector_without_its_trailing_crlf_fails(vectors: dict[str, Any]) -> None:
    vector = vectors["sendgrid"]
    body = vector["body"].rstrip("\r\n").encode()
    with pytest.raises(WebhookAuthError, match="signature does not match"):
        parse_events(
            "sendgrid", body, sg_vector_headers(vector), verification_key=vector["public_key"]
        )


def test_sendgrid_vector_reserialized_fails(vectors: dict[str, Any]) -> None:
    # The pitfall of sendgrid-python#950: verifying json.dumps(json.loads(body)).
    vector = vectors["sendgrid"]
    body = (json.dumps(json.loads(vector["body"])) + "\r\n").encode()
    with pytest.raises(WebhookAuthError):
        parse_events(
            "sendgrid", body, sg_vector_headers(vector), verification_key=vector["public_key"]
        )


def test_sendgrid_key_in_pem_armour_works_too(vectors: dict[str, Any]) -> None:
    vector = vectors["sendgrid"]
    pem = f"-----BEGIN PUBLIC KEY-----\n{vector['public_key']}\n-----END PUBLIC KEY-----\n"
    events = parse_events(
        "sendgrid", vector["body"].encode(), sg_vector_headers(vector), verification_key=pem
    )
    assert len(events) == 1


def test_generated_key_signs_a_multi_event_body(sendgrid_key, sign_sendgrid, sg_body) -> None:
    private, public = sendgrid_key
    events = [
        {
            "event": "processed",
            "email": f"u{i}@example.com",
            "timestamp": 1700000000 + i,
            "sg_message_id": f"id{i}.filter",
            "sg_event_id": f"ev{i}",
            "url": "https://x.example/Daré",
        }
        for i in range(5)
    ]
    body = sg_body(events)
    assert b",\r\n" in body and body.endswith(b"]\r\n")
    parsed = parse_events("sendgrid", body, sign_sendgrid(private, body), verification_key=public)
    assert [e.event_id for e in parsed] == [f"ev{i}" for i in range(5)]
    assert [e.message_id for e in parsed] == [f"id{i}" for i in range(5)]


@pytest.mark.parametrize("position", [0, 10, -3, -1])
def test_any_tampered_byte_fails(sendgrid_key, sign_sendgrid, sg_body, position: int) -> None:
    private, public = sendgrid_key
    body = sg_body([{"event": "delivered", "email": "a@example.com", "timestamp": 1}])
    headers = sign_sendgrid(private, body)
    tampered = bytearray(body)
    tampered[position] ^= 0x01
    with pytest.raises(WebhookAuthError):
        parse_events("sendgrid", bytes(tampered), headers, verification_key=public)


def test_changed_timestamp_header_fails(sendgrid_key, sign_sendgrid, sg_body) -> None:
    private, public = sendgrid_key
    body = sg_body([{"event": "delivered", "email": "a@example.com", "timestamp": 1}])
    headers = sign_sendgrid(private, body, "1700000000")
    headers["X-Twilio-Email-Event-Webhook-Timestamp"] = "1700000001"
    with pytest.raises(WebhookAuthError):
        parse_events("sendgrid", body, headers, verification_key=public)


def test_wrong_key_fails_and_rotation_list_passes(sendgrid_key, sign_sendgrid, sg_body) -> None:
    private, public = sendgrid_key
    other = ec.generate_private_key(ec.SECP256R1())
    other_public = base64.b64encode(
        other.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    body = sg_body([{"event": "open", "email": "a@example.com", "timestamp": 1}])
    headers = sign_sendgrid(private, body)
    with pytest.raises(WebhookAuthError):
        parse_events("sendgrid", body, headers, verification_key=other_public)
    events = parse_events("sendgrid", body, headers, verification_key=[other_public, public])
    assert events[0].type is EventType.opened


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("X-Twilio-Email-Event-Webhook-Signature", "no X-Twilio-Email-Event-Webhook-Signature"),
        ("X-Twilio-Email-Event-Webhook-Timestamp", "no X-Twilio-Email-Event-Webhook-Timestamp"),
    ],
)
def test_missing_sendgrid_header_fails(sendgrid_key, sign_sendgrid, sg_body, drop, message) -> None:
    private, public = sendgrid_key
    body = sg_body([{"event": "open", "email": "a@example.com", "timestamp": 1}])
    headers = sign_sendgrid(private, body)
    del headers[drop]
    with pytest.raises(WebhookAuthError, match=message):
        parse_events("sendgrid", body, headers, verification_key=public)


def test_signature_not_base64_fails(sendgrid_key, sg_body) -> None:
    _, public = sendgrid_key
    body = sg_body([])
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": "not base64!!",
        "X-Twilio-Email-Event-Webhook-Timestamp": "1",
    }
    with pytest.raises(WebhookAuthError, match="not base64"):
        parse_events("sendgrid", body, headers, verification_key=public)


@pytest.mark.parametrize("case", [str.lower, str.upper, lambda s: s])
def test_header_names_are_case_insensitive(sendgrid_key, sign_sendgrid, sg_body, case) -> None:
    private, public = sendgrid_key
    body = sg_body([{"event": "click", "email": "a@example.com", "timestamp": 1}])
    headers = {case(name): value for name, value in sign_sendgrid(private, body).items()}
    assert parse_events("sendgrid", body, headers, verification_key=public)[0].type == "clicked"


def _der_b64(public_key: Any) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.mark.parametrize(
    "key",
    [
        "not a key",
        base64.b64encode(b"random bytes that are not DER").decode(),
        _der_b64(ec.generate_private_key(ec.SECP384R1()).public_key()),
        _der_b64(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()),
    ],
    ids=["text", "not-der", "p384", "rsa"],
)
def test_a_key_that_is_not_p256_is_a_configuration_error(key: str) -> None:
    with pytest.raises(ConfigurationError, match="Event Webhook verification key"):
        parse_events("sendgrid", b"[]\r\n", {}, verification_key=key)


# ------------------------------------------------------------ Mailtrap (HMAC-SHA256)


def test_mailtrap_published_vector(vectors: dict[str, Any]) -> None:
    vector = vectors["mailtrap"]
    headers = {"Mailtrap-Signature": vector["signature"]}
    events = parse_events(
        "mailtrap", vector["body"].encode(), headers, signing_secret=vector["signing_secret"]
    )
    assert events[0].message_id == "a8b1d8f6-1f8d-4a3c-9b2e-1a2b3c4d5e6f"
    assert events[0].type is EventType.delivered


def test_mailtrap_upper_case_hex_and_lower_case_header_pass(vectors: dict[str, Any]) -> None:
    vector = vectors["mailtrap"]
    headers = {"mailtrap-signature": vector["signature"].upper()}
    assert parse_events(
        "mailtrap", vector["body"].encode(), headers, signing_secret=vector["signing_secret"]
    )


@pytest.mark.parametrize(
    ("body_change", "headers", "secret", "message"),
    [
        (b" ", None, None, "does not match"),  # tampered body
        (b"", None, "another-secret", "does not match"),  # wrong secret
        (b"", {}, None, "no Mailtrap-Signature"),  # missing header
        (b"", {"Mailtrap-Signature": "zz"}, None, "does not match"),
    ],
    ids=["tampered", "wrong-secret", "missing", "garbage"],
)
def test_mailtrap_failures(vectors, body_change, headers, secret, message) -> None:
    vector = vectors["mailtrap"]
    body = vector["body"].encode() + body_change
    headers = {"Mailtrap-Signature": vector["signature"]} if headers is None else headers
    with pytest.raises(WebhookAuthError, match=message) as caught:
        parse_events("mailtrap", body, headers, signing_secret=secret or vector["signing_secret"])
    assert_no_secret(caught.value)


def test_mailtrap_secret_rotation(vectors: dict[str, Any]) -> None:
    vector = vectors["mailtrap"]
    headers = {"Mailtrap-Signature": vector["signature"]}
    events = parse_events(
        "mailtrap",
        vector["body"].encode(),
        headers,
        signing_secret=["new-secret-not-yet-live", vector["signing_secret"]],
    )
    assert len(events) == 1


# ------------------------------------------------------------ basic auth and bearer


@pytest.mark.parametrize("provider", ["postmark", "mailjet", "brevo", "sendgrid", "mailtrap"])
def test_basic_auth_applies_to_every_provider(provider: str, basic_header) -> None:
    with pytest.raises(WebhookAuthError, match="credentials are wrong") as caught:
        parse_events(provider, b"{}", basic_header("hook:wrong"), basic_auth="hook:s3cret-pass")
    assert_no_secret(caught.value)


def test_basic_auth_right_credentials_parse(basic_header) -> None:
    events = parse_events(
        "postmark",
        POSTMARK_DELIVERY,
        basic_header("hook:s3cret-pass"),
        basic_auth="hook:s3cret-pass",
    )
    assert events[0].type is EventType.delivered


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "no Authorization: Basic"),
        ({"Authorization": "Bearer hook:s3cret-pass"}, "not Basic"),
        ({"Authorization": "Basic %%%"}, "not base64"),
        ({"authorization": "basic " + base64.b64encode(b"hook:s3cret-pas").decode()}, "wrong"),
        ({"Authorization": "Basic " + base64.b64encode(b"hook2:s3cret-pass").decode()}, "wrong"),
    ],
    ids=["missing", "other-scheme", "not-base64", "one-char-short", "wrong-user"],
)
def test_basic_auth_failures(headers: dict[str, str], message: str) -> None:
    with pytest.raises(WebhookAuthError, match=message) as caught:
        parse_events("mailjet", b"{}", headers, basic_auth="hook:s3cret-pass")
    assert_no_secret(caught.value)


def test_basic_auth_rotation_accepts_old_and_new(basic_header) -> None:
    credentials = ["hook:new-pass", "hook:s3cret-pass"]
    for given in credentials:
        events = parse_events(
            "postmark", POSTMARK_DELIVERY, basic_header(given), basic_auth=credentials
        )
        assert len(events) == 1
    with pytest.raises(WebhookAuthError):
        parse_events(
            "postmark", POSTMARK_DELIVERY, basic_header("hook:older"), basic_auth=credentials
        )


def test_brevo_bearer_token() -> None:
    body = b'{"event":"delivered","email":"a@example.com","message-id":"<x@relay>","ts_epoch":1}'
    events = parse_events(
        "brevo", body, {"Authorization": "Bearer brevo-token-123"}, token="brevo-token-123"
    )
    assert events[0].type is EventType.delivered
    for headers, message in [
        ({"Authorization": "Bearer brevo-token-12"}, "token is wrong"),
        ({}, "no Authorization: Bearer"),
        ({"Authorization": "Basic YTpi"}, "not Bearer"),
    ]:
        with pytest.raises(WebhookAuthError, match=message) as caught:
            parse_events("brevo", body, headers, token=["other", "brevo-token-123"])
        assert_no_secret(caught.value)


# ------------------------------------------------------------ configuration


@pytest.mark.parametrize("provider", ["sendgrid", "postmark", "mailjet", "brevo", "mailtrap"])
def test_no_credential_is_a_configuration_error(provider: str) -> None:
    with pytest.raises(ConfigurationError, match="insecure=True"):
        parse_events(provider, b"[]", {})


def test_insecure_must_be_named_and_parses_without_credentials() -> None:
    events = parse_events("postmark", POSTMARK_DELIVERY, {}, insecure=True)
    assert events[0].recipient == "john@example.com"
    with pytest.raises(TypeError):
        parse_events("postmark", POSTMARK_DELIVERY, {}, None, None, None, None, True)  # type: ignore[misc]
    with pytest.raises(ConfigurationError, match="True or False"):
        parse_events("postmark", POSTMARK_DELIVERY, {}, insecure="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("provider", "keyword", "hint"),
    [
        ("postmark", "signing_secret", "basic_auth"),
        ("mailjet", "verification_key", "basic_auth"),
        ("sendgrid", "token", "verification_key or basic_auth"),
        ("mailtrap", "token", "signing_secret or basic_auth"),
    ],
)
def test_a_credential_that_does_not_apply_is_refused(provider, keyword, hint) -> None:
    with pytest.raises(ConfigurationError, match=hint) as caught:
        parse_events(provider, b"{}", {}, **{keyword: "s3cret-pass"})
    assert "s3cret-pass" not in str(caught.value)


def test_other_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="one of brevo, mailjet"):
        parse_events("mailgun", b"{}", {}, insecure=True)
    with pytest.raises(ConfigurationError, match="'user:password'") as caught:
        parse_events("postmark", b"{}", {}, basic_auth="s3cret-pass")
    assert "s3cret-pass" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="not both"):
        parse_events("brevo", b"{}", {}, basic_auth="a:b", token="t")
    with pytest.raises(ConfigurationError, match="non-empty string"):
        parse_events("postmark", b"{}", {}, basic_auth=["a:b", ""])
    with pytest.raises(ConfigurationError, match="non-empty string"):
        parse_events("postmark", b"{}", {}, basic_auth=42)  # type: ignore[arg-type]


def test_provider_name_is_case_blind() -> None:
    assert parse_events("Postmark", POSTMARK_DELIVERY, {}, insecure=True)[0].provider == "postmark"


# ------------------------------------------------------------ order and body forms


def test_verification_comes_before_parsing(basic_header) -> None:
    # A malformed body with wrong credentials is a 401, not a 400.
    with pytest.raises(WebhookAuthError):
        parse_events(
            "postmark", b"not json", basic_header("hook:no"), basic_auth="hook:s3cret-pass"
        )
    with pytest.raises(WebhookError) as caught:
        parse_events(
            "postmark", b"not json", basic_header("hook:s3cret-pass"), basic_auth="hook:s3cret-pass"
        )
    assert not isinstance(caught.value, WebhookAuthError)


def test_body_must_be_bytes_and_bytes_like_works() -> None:
    with pytest.raises(TypeError, match="raw request bytes"):
        parse_events("postmark", POSTMARK_DELIVERY.decode(), {}, insecure=True)  # type: ignore[arg-type]
    for body in (bytearray(POSTMARK_DELIVERY), memoryview(POSTMARK_DELIVERY)):
        assert parse_events("postmark", body, {}, insecure=True)[0].type == "delivered"  # type: ignore[arg-type]


def test_body_over_10_mb_is_refused_before_verification(basic_header) -> None:
    body = b"[" + b" " * (10 * 1024 * 1024) + b"]"
    with pytest.raises(WebhookError, match="over the 10 MB limit") as caught:
        parse_events("sendgrid", body, basic_header("a:b"), basic_auth="a:b")
    assert not isinstance(caught.value, WebhookAuthError)
    # exactly at the limit is accepted
    body = b"[" + b" " * (10 * 1024 * 1024 - 2) + b"]"
    assert parse_events("sendgrid", body, basic_header("a:b"), basic_auth="a:b") == []
