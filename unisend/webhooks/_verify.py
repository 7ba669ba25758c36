"""Checking that a webhook request comes from the provider, over the raw bytes.

One small class per kind of proof: :class:`BasicAuth` and :class:`BearerToken` (the
``Authorization`` header), :class:`MailtrapSignature` (HMAC-SHA256) and
:class:`SendGridSignature` (ECDSA P-256, through ``cryptography``). Every check accepts
several credentials, for rotation, and compares in constant time. Failures raise
:class:`WebhookAuthError` with a message that names the header, never a secret.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .._errors import ConfigurationError
from ._model import WebhookAuthError

SENDGRID_SIGNATURE = "x-twilio-email-event-webhook-signature"
SENDGRID_TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
MAILTRAP_SIGNATURE = "mailtrap-signature"


class Check(Protocol):
    """One verification step; ``headers`` have lower-case names."""

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None: ...


def credential_list(name: str, value: object) -> tuple[str, ...]:
    """A credential keyword (one string, or a list of them for rotation) as a tuple."""
    if value is None:
        return ()
    values = (value,) if isinstance(value, str) else value
    if not isinstance(values, Sequence) or not all(isinstance(v, str) and v for v in values):
        raise ConfigurationError(f"{name} must be a non-empty string or a list of them")
    return tuple(values)


def _encode(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def _digest(value: bytes) -> bytes:
    # Compared as SHA-256 digests, so neither the time nor an early length mismatch
    # tells anything about a credential's length.
    return hashlib.sha256(value).digest()


def _matches_any(given: bytes, expected: tuple[bytes, ...]) -> bool:
    """Whether ``given`` hashes to one of the ``expected`` digests; every one is compared,
    so the time taken does not tell which matched."""
    given = _digest(given)
    found = False
    for candidate in expected:
        found |= hmac.compare_digest(given, candidate)
    return found


def _authorization(headers: Mapping[str, str], scheme: str) -> str:
    value = headers.get("authorization")
    if not value:
        raise WebhookAuthError(f"the request has no Authorization: {scheme} header")
    given_scheme, _, credentials = value.strip().partition(" ")
    if given_scheme.lower() != scheme.lower():
        raise WebhookAuthError(f"the request's Authorization header is not {scheme}")
    return credentials.strip()


class BasicAuth:
    """``Authorization: Basic`` against ``"user:password"`` strings."""

    challenge = 'Basic realm="webhook"'

    def __init__(self, credentials: tuple[str, ...]) -> None:
        for item in credentials:
            if ":" not in item:
                raise ConfigurationError(
                    "basic_auth must be 'user:password' (or a list of them), "
                    "as written in the webhook URL https://user:password@host/path"
                )
        self._expected = tuple(_digest(_encode(item)) for item in credentials)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise WebhookAuthError unless the request carries one of the credentials."""
        try:
            given = base64.b64decode(_authorization(headers, "Basic"), validate=True)
        except binascii.Error:
            raise WebhookAuthError("the request's Basic credentials are not base64") from None
        if not _matches_any(given, self._expected):
            raise WebhookAuthError("the request's Basic credentials are wrong")


class BearerToken:
    """``Authorization: Bearer`` against tokens (Brevo's ``auth: {type: "bearer"}``)."""

    challenge = 'Bearer realm="webhook"'

    def __init__(self, tokens: tuple[str, ...]) -> None:
        self._expected = tuple(_digest(_encode(token)) for token in tokens)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise WebhookAuthError unless the request carries one of the tokens."""
        if not _matches_any(_encode(_authorization(headers, "Bearer")), self._expected):
            raise WebhookAuthError("the request's bearer token is wrong")


class MailtrapSignature:
    """``Mailtrap-Signature``: lower-case hex HMAC-SHA256 of the raw body."""

    challenge = None

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets = tuple(_encode(secret) for secret in secrets)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise WebhookAuthError unless the signature is the body's HMAC under a secret."""
        given = headers.get(MAILTRAP_SIGNATURE, "").strip().lower()
        if not given:
            raise WebhookAuthError("the request has no Mailtrap-Signature header")
        expected = tuple(
            _digest(hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii"))
            for secret in self._secrets
        )
        if not _matches_any(_encode(given), expected):
            raise WebhookAuthError("the Mailtrap-Signature does not match the body")


class SendGridSignature:
    """SendGrid's Signed Event Webhook: ECDSA P-256 / SHA-256 over the timestamp header
    followed by the raw body (its trailing CRLF included)."""

    challenge = None

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._keys = tuple(_load_key(key) for key in keys)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise WebhookAuthError unless one key verifies the signature."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        signature = headers.get(SENDGRID_SIGNATURE, "").strip()
        timestamp = headers.get(SENDGRID_TIMESTAMP)
        if not signature:
            raise WebhookAuthError("the request has no X-Twilio-Email-Event-Webhook-Signature")
        if timestamp is None:
            raise WebhookAuthError("the request has no X-Twilio-Email-Event-Webhook-Timestamp")
        try:
            der = base64.b64decode(signature, validate=True)
        except binascii.Error:
            raise WebhookAuthError("the SendGrid signature header is not base64") from None
        signed = _encode(timestamp) + body
        for key in self._keys:
            try:
                key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            return
        raise WebhookAuthError("the SendGrid signature does not match the timestamp and body")


@functools.lru_cache(maxsize=16)
def _load_key(text: str) -> Any:
    """SendGrid's verification key (base64 DER SubjectPublicKeyInfo as the dashboard shows
    it, or PEM) as a ``cryptography`` P-256 public key."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import (
            load_der_public_key,
            load_pem_public_key,
        )
    except ImportError:
        raise ConfigurationError(
            "checking SendGrid's signature needs the cryptography package: "
            "pip install 'unisend[webhooks]'"
        ) from None
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode("ascii"))
        else:
            key = load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigurationError(
            "verification_key is not SendGrid's Event Webhook verification key (a base64 "
            "ECDSA P-256 public key from Settings > Mail Settings > Event Webhook)"
        )
    return key
