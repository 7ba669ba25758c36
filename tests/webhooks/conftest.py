"""Fixtures for the webhook tests: the copied samples and signature vectors, a P-256 key
pair generated per session with a signer for SendGrid bodies, and Basic credentials."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

DATA = Path(__file__).resolve().parents[1] / "data" / "webhooks"

SG_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SG_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


@pytest.fixture(scope="session")
def samples() -> dict[str, Any]:
    """Each provider's official sample payload (``samples.json``)."""
    return {
        name: item["body"] for name, item in json.loads((DATA / "samples.json").read_text()).items()
    }


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """The SendGrid and Mailtrap signature vectors (``vectors.json``)."""
    data: dict[str, Any] = json.loads((DATA / "vectors.json").read_text(encoding="utf-8"))
    return data


def public_key_b64(private: ec.EllipticCurvePrivateKey) -> str:
    """The public half as SendGrid shows it: base64 DER SubjectPublicKeyInfo."""
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


@pytest.fixture(scope="session")
def sendgrid_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A fresh P-256 key pair: (private key, public key as SendGrid shows it)."""
    private = ec.generate_private_key(ec.SECP256R1())
    return private, public_key_b64(private)


def sendgrid_headers(
    private: ec.EllipticCurvePrivateKey, body: bytes, timestamp: str = "1700000000"
) -> dict[str, str]:
    """The two headers SendGrid adds: ECDSA over timestamp + body, base64 DER."""
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SG_SIGNATURE: base64.b64encode(signature).decode(), SG_TIMESTAMP: timestamp}


@pytest.fixture(scope="session")
def sign_sendgrid() -> Callable[..., dict[str, str]]:
    """``sign_sendgrid(private, body, timestamp="1700000000") -> headers``."""
    return sendgrid_headers


def sendgrid_body(events: list[dict[str, Any]]) -> bytes:
    """A body as SendGrid writes it: events joined and ended by CRLF (sendgrid-nodejs#1321)."""
    return ("[" + ",\r\n".join(json.dumps(e) for e in events) + "]\r\n").encode()


@pytest.fixture(scope="session")
def sg_body() -> Callable[[list[dict[str, Any]]], bytes]:
    """``sg_body(events) -> bytes`` (see :func:`sendgrid_body`)."""
    return sendgrid_body


def basic(credentials: str) -> dict[str, str]:
    """``{"Authorization": "Basic ..."}`` for ``"user:password"``."""
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


@pytest.fixture(scope="session")
def basic_header() -> Callable[[str], dict[str, str]]:
    """``basic_header("user:pass") -> headers``."""
    return basic
