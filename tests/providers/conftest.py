"""Fixtures for the HTTP provider tests: the loopback stub, the providers.md §7 message,
the vendors' OpenAPI request schemas as jsonschema validators, and ``via``: the same
call made through the sync or the async path."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from servers.http import http_stub, https_stub, stub  # noqa: F401  (fixtures used by the provider tests)

from unisend import Attachment, Message, SendError, SendResult
from unisend.transports.base import Transport

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs"


@pytest.fixture(autouse=True)
def respx_sees_async_requests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """respx intercepts httpcore, but the default async transport is aiohttp when
    httpx-aiohttp is installed (unisend's ``fast`` extra), which respx cannot see. Tests
    that mock with respx get the httpcore transport; tests against the loopback stub keep
    the default, so both async transports are exercised."""
    if {"stub", "http_stub", "https_stub"} & set(request.fixturenames):
        return
    from unisend.transports import _async_http

    monkeypatch.setattr(_async_http, "USE_AIOHTTP", False)


def vector_message(**overrides: Any) -> Message:
    """The logical message of providers.md §7 (keyword arguments override fields)."""
    fields: dict[str, Any] = {
        "sender": "Acme Support <no-reply@acme.example>",
        "to": ["Alice Example <alice@example.com>", "bob@example.com"],
        "cc": "Carol <carol@example.com>",
        "bcc": "dave@example.com",
        "reply_to": "Help Desk <help@acme.example>",
        "subject": "Your order #1234 — confirmée ✓",
        "text": "Hello Alice,\nYour order has shipped.",
        "html": "<p>Hello Alice,</p><p>Your order has <b>shipped</b>.</p>",
        "attachments": [Attachment("invoice.txt", b"Invoice 1234\n", "text/plain")],
        "headers": {"X-Order-Id": "1234"},
        "tags": ["order-confirmation"],
        "metadata": {"order_id": "1234"},
    }
    fields.update(overrides)
    return Message(**fields)


@pytest.fixture
def vector() -> Message:
    """The providers.md §7 message."""
    return vector_message()


@pytest.fixture
def vector_factory() -> Callable[..., Message]:
    """``vector_factory(**overrides)``: the §7 message with some fields changed."""
    return vector_message


@functools.cache
def _spec(path: Path) -> Any:
    """A parsed spec file, read once per session (YAML parsing is slow)."""
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def sendgrid_validator(*, patch_custom_args: bool = True) -> jsonschema.Draft202012Validator:
    """The Mail Send request schema of tsg_mail_v3.json, $refs resolved.

    The spec types message-level ``custom_args`` as a string, but the API, SendGrid's
    own SDK (``Mail.get()``) and its docs take an object of string values, so with
    ``patch_custom_args`` that one property is replaced by the documented shape.
    """
    spec = _spec(SPECS / "sendgrid" / "tsg_mail_v3.json")
    body = spec["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]
    schema = dict(body["schema"])
    if patch_custom_args:
        schema["properties"] = {
            **schema["properties"],
            "custom_args": {"type": "object", "additionalProperties": {"type": "string"}},
        }
    schema["components"] = spec["components"]
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture
def sendgrid_schema() -> Callable[..., jsonschema.Draft202012Validator]:
    """``sendgrid_schema(patch_custom_args=True)``: see :func:`sendgrid_validator`."""
    return sendgrid_validator


MAILTRAP_SPECS = (
    "email-sending-transactional.openapi.yml",
    "email-sending-bulk.openapi.yml",
    "sandbox-sending.openapi.yml",
)


def mailtrap_validator(file: str, schema_name: str) -> jsonschema.Draft202012Validator:
    """Schema ``schema_name`` of Mailtrap's OpenAPI ``file``, wrapped so its $refs resolve."""
    spec = _spec(SPECS / "mailtrap" / file)
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture
def mailtrap_schema() -> Callable[[str, str], jsonschema.Draft202012Validator]:
    """``mailtrap_schema(file, schema_name)``: see :func:`mailtrap_validator`."""
    return mailtrap_validator


class Via:
    """``via.send(t, m)`` / ``via.send_many(t, ms)`` through ``send`` or ``asend``."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def send(self, transport: Transport, message: Message) -> SendResult:
        if self.mode == "sync":
            return transport.send(message)
        return asyncio.run(_asend_and_close(transport, message))

    def send_many(
        self, transport: Transport, messages: Sequence[Message]
    ) -> list[SendResult | SendError]:
        if self.mode == "sync":
            return transport.send_many(messages)
        return asyncio.run(_asend_many_and_close(transport, messages))

    def __repr__(self) -> str:
        return self.mode


async def _asend_and_close(transport: Transport, message: Message) -> SendResult:
    try:
        return await transport.asend(message)
    finally:
        await transport.aclose()


async def _asend_many_and_close(
    transport: Transport, messages: Sequence[Message]
) -> list[SendResult | SendError]:
    try:
        return await transport.asend_many(messages)
    finally:
        await transport.aclose()


@pytest.fixture(params=["sync", "async"])
def via(request: pytest.FixtureRequest) -> Via:
    """Run each test once through the sync path and once through the async path."""
    return Via(request.param)
