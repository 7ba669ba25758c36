"""Fixtures for the HTTP provider tests: the loopback stub, the providers.md §7 message
and a short one, the vendors' OpenAPI request schemas as jsonschema validators, and
``via``: the same call made through the sync or the async path, with the respx exchanges
every provider's tests make."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import respx
import yaml
from servers.http import http_stub, https_stub, stub  # noqa: F401  (fixtures used by the provider tests)

from unisend import Attachment, InvalidMessage, Message, SendError, SendResult
from unisend._version import __version__
from unisend.transports.base import Transport

#: The vendors' OpenAPI files, copied into the repository (see its README.md).
SPECS = Path(__file__).resolve().parents[1] / "data" / "specs"


@pytest.fixture(autouse=True)
def respx_sees_async_requests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """respx intercepts httpcore, but the default async transport is aiohttp when
    aiohttp is installed (unisend's ``fast`` extra), which respx cannot see. Tests
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


def short_message(n: int = 0, **overrides: Any) -> Message:
    """A short text message from ann@ to ``user{n}@example.com`` (keywords override)."""
    fields: dict[str, Any] = {
        "sender": "ann@example.com",
        "to": f"user{n}@example.com",
        "subject": f"Hello {n}",
        "text": "Hi",
    }
    fields.update(overrides)
    return Message(**fields)


@pytest.fixture
def simple() -> Callable[..., Message]:
    """``simple(n=0, **overrides)``: see :func:`short_message` (a module may override it,
    e.g. with an html body)."""
    return short_message


def answer(status: int, body: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """A response with ``body`` as text (a str) or as JSON (anything else)."""
    content = {"text": body} if isinstance(body, str) else {"json": body}
    return httpx.Response(status, headers=dict(headers or {}), **content)


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

    def post(
        self,
        transport: Transport,
        message: Message,
        url: str,
        reply: httpx.Response,
        headers: Mapping[str, str],
    ) -> tuple[Any, SendResult]:
        """Send ``message`` while ``url`` answers ``reply``; check the one request is a
        JSON POST from unisend to ``url`` carrying ``headers``; return its JSON body and
        the result."""
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post(url).mock(return_value=reply)
            result = self.send(transport, message)
        assert route.call_count == 1
        request = route.calls.last.request
        assert request.method == "POST"
        assert str(request.url) == url
        assert request.headers["user-agent"] == f"unisend/{__version__}"
        assert request.headers["content-type"] == "application/json"
        for name, value in headers.items():
            assert request.headers[name] == value
        return json.loads(request.content), result

    def refusal(
        self,
        transport: Transport,
        message: Message,
        url: str,
        status: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
    ) -> SendError:
        """The SendError sending ``message`` raises when ``url`` answers ``status`` with
        ``body`` (see :func:`answer`)."""
        with respx.mock(assert_all_called=True) as mock:
            mock.post(url).mock(return_value=answer(status, body, headers))
            with pytest.raises(SendError) as caught:
                self.send(transport, message)
        return caught.value

    def invalid(self, transport: Transport, message: Message | Sequence[Message]) -> str:
        """The InvalidMessage text sending ``message`` (a list: ``send_many``) raises,
        having checked that no request went out."""
        with respx.mock(assert_all_called=False) as mock:
            anything = mock.route()
            with pytest.raises(InvalidMessage) as caught:
                if isinstance(message, Message):
                    self.send(transport, message)
                else:
                    self.send_many(transport, message)
        assert not anything.called
        return str(caught.value)

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
