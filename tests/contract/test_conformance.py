"""The conformance suite every HTTP transport passes, parametrized over the five providers.

Each provider's own module tests its mapping in depth; this suite checks the promises they
all make the same way: secrets never in repr, str, errors or logs; send and asend agree
(byte for byte on the wire, and against the loopback stub); failures map onto the error
tree; what a provider cannot carry raises InvalidMessage before any request; send_many
keeps input order; the DESIGN.md URL form (with ``?base_url=``) builds a working route.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import httpcore
import httpx
import pytest
import respx
from echo_server import EchoServer, refused_url
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leaks import leaks
from servers.http import HttpStub

from unisend import (
    Attachment,
    AuthenticationError,
    ConfigurationError,
    InvalidMessage,
    Mailer,
    Message,
    MessageRejected,
    RateLimited,
    RetryPolicy,
    SendError,
    SendResult,
    TransientError,
    from_url,
)
from unisend._version import __version__
from unisend.transports._http import HttpTransport


@dataclass(frozen=True)
class Provider:
    """How to build one provider's transport and what its API answers."""

    name: str
    cls_name: str
    #: Constructor keywords carrying the credentials (fake, but shaped like real ones).
    credentials: dict[str, str]
    #: The URL form of DESIGN.md, without query.
    url: str
    #: Default send endpoint.
    endpoint: str
    #: A 2xx answer of the real API for one message, and the message_id it gives.
    success: Callable[[], httpx.Response]
    message_id: str
    #: Real error bodies for 401 (bad credentials) and 422 (refused message).
    error_bodies: dict[int, Any]
    #: Message fields this provider cannot carry, and the word the error must name.
    unsupported: dict[str, Any]
    unsupported_word: str
    #: The query parameters its URL form takes, as the "unknown query parameter" error
    #: lists them.
    url_options: str = ""
    #: Extra strings that must stay secret (e.g. the Basic auth token).
    derived_secrets: tuple[str, ...] = field(default=())

    def secrets(self) -> list[str]:
        return [*self.credentials.values(), *self.derived_secrets]

    def transport(self, **kwargs: Any) -> HttpTransport:
        import unisend.transports as transports

        cls = getattr(transports, self.cls_name)
        transport: HttpTransport = cls(**self.credentials, **kwargs)
        return transport


SG_KEY = "SG.conformance-key-0a1b2c3d"
MT_TOKEN = "mt-conformance-token-4e5f6a"
PM_TOKEN = "pm-conformance-token-7b8c9d"
MJ_KEY, MJ_SECRET = "mjkey0123456789abcdef", "mjsecret9876543210fedcba"
BV_KEY = "xkeysib-conformance-1f2e3d4c"

PROVIDERS = [
    Provider(
        name="sendgrid",
        cls_name="SendGridTransport",
        credentials={"api_key": SG_KEY},
        url=f"sendgrid://{SG_KEY}@default",
        endpoint="https://api.sendgrid.com/v3/mail/send",
        success=lambda: httpx.Response(202, headers={"X-Message-Id": "sg-Qm3H0wqT1Z"}),
        message_id="sg-Qm3H0wqT1Z",
        error_bodies={
            401: {"errors": [{"message": "authorization required", "field": None}]},
            422: {"errors": [{"message": "invalid request", "field": "content"}]},
        },
        unsupported={"template_id": "legacy-7", "template_data": {"count": 3}},
        unsupported_word="template_data",
        url_options="ca_file, connect_timeout, min_tls, name, sandbox, timeout",
    ),
    Provider(
        name="mailtrap",
        cls_name="MailtrapTransport",
        credentials={"token": MT_TOKEN},
        url=f"mailtrap://{MT_TOKEN}@default",
        endpoint="https://send.api.mailtrap.io/api/send",
        success=lambda: httpx.Response(
            200, json={"success": True, "message_ids": ["0c7fd939-02cf-11ed-88c2-0a58a9feac02"]}
        ),
        message_id="0c7fd939-02cf-11ed-88c2-0a58a9feac02",
        error_bodies={
            401: {"success": False, "errors": ["Unauthorized"]},
            422: {"success": False, "errors": ["'to' address is invalid"]},
        },
        unsupported={"send_at": datetime(2030, 1, 1, tzinfo=timezone.utc)},
        unsupported_word="send_at",
        url_options="bulk, ca_file, connect_timeout, inbox_id, min_tls, name, sandbox, timeout",
    ),
    Provider(
        name="postmark",
        cls_name="PostmarkTransport",
        credentials={"server_token": PM_TOKEN},
        url=f"postmark://{PM_TOKEN}@default",
        endpoint="https://api.postmarkapp.com/email",
        success=lambda: httpx.Response(
            200,
            json={
                "To": "bob@example.com",
                "SubmittedAt": "2026-11-27T22:00:00.0000000Z",
                "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
                "ErrorCode": 0,
                "Message": "OK",
            },
        ),
        message_id="b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
        error_bodies={
            401: {"ErrorCode": 10, "Message": "Request does not contain a valid Server token."},
            422: {"ErrorCode": 300, "Message": "Invalid 'To' address: 'bob@example'."},
        },
        unsupported={"tags": ["one", "two"]},
        unsupported_word="tag",
        url_options="ca_file, connect_timeout, message_stream, min_tls, name, sandbox, timeout",
    ),
    Provider(
        name="mailjet",
        cls_name="MailjetTransport",
        credentials={"api_key": MJ_KEY, "secret_key": MJ_SECRET},
        url=f"mailjet://{MJ_KEY}:{MJ_SECRET}@default",
        endpoint="https://api.mailjet.com/v3.1/send",
        success=lambda: httpx.Response(
            200,
            json={
                "Messages": [
                    {
                        "Status": "success",
                        "CustomID": "",
                        "To": [
                            {
                                "Email": "bob@example.com",
                                "MessageUUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2j",
                                "MessageID": 288230384966602000,
                                "MessageHref": "https://api.mailjet.com/v3/REST/message/1",
                            }
                        ],
                        "Cc": [],
                        "Bcc": [],
                    }
                ]
            },
        ),
        message_id="288230384966602000",
        error_bodies={
            401: {
                "ErrorIdentifier": "ad6c3a8e-1f8b-4c4a-9d34-6a5ad6b3a1f0",
                "StatusCode": 401,
                "ErrorMessage": "API key authentication/authorization failure. You may be "
                "unauthorized to access the API or your API key may be expired.",
            },
            422: {
                "Messages": [
                    {
                        "Status": "error",
                        "Errors": [
                            {
                                "ErrorIdentifier": "f987008f-251a-4dff-8ffc-40f1583ad7bc",
                                "ErrorCode": "mj-0013",
                                "StatusCode": 400,
                                "ErrorMessage": '"bob@example" is an invalid email address.',
                                "ErrorRelatedTo": ["To[0].Email"],
                            }
                        ],
                    }
                ]
            },
        },
        unsupported={"send_at": datetime(2030, 1, 1, tzinfo=timezone.utc)},
        unsupported_word="send_at",
        url_options="ca_file, connect_timeout, min_tls, name, sandbox, timeout",
        derived_secrets=(base64.b64encode(f"{MJ_KEY}:{MJ_SECRET}".encode()).decode(),),
    ),
    Provider(
        name="brevo",
        cls_name="BrevoTransport",
        credentials={"api_key": BV_KEY},
        url=f"brevo://{BV_KEY}@default",
        endpoint="https://api.brevo.com/v3/smtp/email",
        success=lambda: httpx.Response(
            201, json={"messageId": "<202611272200.12345678901@smtp-relay.mailin.fr>"}
        ),
        message_id="<202611272200.12345678901@smtp-relay.mailin.fr>",
        error_bodies={
            401: {"code": "unauthorized", "message": "Key not found"},
            422: {"code": "invalid_parameter", "message": "email is not valid in to"},
        },
        unsupported={"attachments": [Attachment("logo.png", b"\x89PNG", "image/png", True, "lg")]},
        unsupported_word="inline",
        url_options="ca_file, connect_timeout, min_tls, name, sandbox, timeout",
    ),
]


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def provider(request: pytest.FixtureRequest) -> Provider:
    """Each of the five HTTP providers in turn."""
    return request.param  # type: ignore[no-any-return]


def message(**overrides: Any) -> Message:
    """A message every provider can carry (text and html, one tag, metadata, a file)."""
    fields: dict[str, Any] = {
        "sender": "Acme <no-reply@acme.example>",
        "to": "Bob <bob@example.com>",
        "subject": "Conformance",
        "text": "Hello Bob",
        "html": "<p>Hello Bob</p>",
        "tags": ["conformance"],
        "metadata": {"case": "1"},
        "attachments": [Attachment("note.txt", b"hi\n", "text/plain")],
    }
    fields.update(overrides)
    return Message(**fields)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def asend_then_close(transport: HttpTransport, msg: Message) -> SendResult:
    try:
        return await transport.asend(msg)
    finally:
        await transport.aclose()


async def asend_many_then_close(
    transport: HttpTransport, msgs: list[Message]
) -> list[SendResult | SendError]:
    try:
        return await transport.asend_many(msgs)
    finally:
        await transport.aclose()


# ---------------------------------------------------------------- secrets


def test_repr_and_str_hide_secrets(provider: Provider) -> None:
    transport = provider.transport()
    assert transport.name == provider.name
    for text in (repr(transport), str(transport)):
        assert provider.name in text.lower()
        for secret in provider.secrets():
            assert secret not in text


def test_errors_and_logs_hide_secrets(provider: Provider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # An API (or a proxy) that echoes the credentials back in its error text.
    echo = " ".join(provider.secrets())
    with respx.mock(assert_all_called=False) as mock:
        mock.route().mock(return_value=httpx.Response(401, text=f"denied: {echo}"))
        with pytest.raises(SendError) as caught:
            provider.transport().send(message())
    refused = provider.transport(base_url="http://127.0.0.1:1")  # nothing listens on port 1
    with pytest.raises(TransientError) as network:
        refused.send(message())
    assert network.value.ambiguous is False  # connection refused: nothing was sent
    for error in (caught.value, network.value):
        for secret in provider.secrets():
            assert secret not in str(error) and secret not in repr(error)
    assert caplog.records
    for secret in provider.secrets():
        assert secret not in caplog.text


def test_debug_log_shows_each_request_with_secret_headers_masked(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="unisend")
    with respx.mock(assert_all_called=False) as mock:
        mock.post(provider.endpoint).mock(side_effect=lambda _: provider.success())
        provider.transport().send(message())
    lines = [r.getMessage() for r in caplog.records if provider.endpoint in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith(f"{provider.name} POST {provider.endpoint}")
    declared = type(provider.transport()).secret_headers
    shown = [name for name in declared if f"'{name}': '***'" in lines[0].lower()]
    assert shown  # the credential header is named, its value masked
    for secret in provider.secrets():
        assert secret not in lines[0]


# ---------------------------------------------------------------- send and asend agree


def test_send_and_asend_put_the_same_request_on_the_wire(provider: Provider) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(provider.endpoint).mock(side_effect=lambda _: provider.success())
        sync_result = provider.transport().send(message())
        async_result = run(asend_then_close(provider.transport(), message()))
    assert route.call_count == 2
    sync_request, async_request = (call.request for call in route.calls)
    for request in (sync_request, async_request):
        assert request.method == "POST"
        assert str(request.url) == provider.endpoint
        assert request.headers["user-agent"] == f"unisend/{__version__}"
        assert request.headers["content-type"] == "application/json"
    assert json.loads(sync_request.content) == json.loads(async_request.content)
    secret_headers = {
        name: value
        for name, value in sync_request.headers.items()
        if any(secret in value for secret in provider.secrets())
    }
    assert secret_headers  # the credentials travel in a header...
    for name, value in secret_headers.items():
        assert async_request.headers[name] == value  # ...the same one on both paths
        assert name.lower() in type(provider.transport()).secret_headers  # and it is declared
    assert sync_result == async_result
    assert sync_result.message_id == provider.message_id
    assert sync_result.transport == provider.name


def test_send_and_asend_against_the_stub(provider: Provider, stub: HttpStub) -> None:
    transport = provider.transport(base_url=stub.url)
    first = transport.send(message())
    second = run(asend_then_close(transport, message()))
    transport.close()
    for result in (first, second):
        assert isinstance(result, SendResult)
        assert result.message_id
        assert result.transport == provider.name
    assert first.message_id != second.message_id
    stats = stub.stats()
    assert stats["requests"] == 2 and stats["messages"] == 2
    assert sum(stats["by_route"].values()) == 2


def test_the_url_form_builds_a_working_route(provider: Provider, stub: HttpStub) -> None:
    transport = from_url(f"{provider.url}?base_url={stub.url}&timeout=5&name=route-a")
    assert isinstance(transport, HttpTransport)
    assert transport.name == "route-a"
    with transport:
        result = transport.send(message())
    assert result.transport == "route-a" and result.message_id
    assert stub.stats()["requests"] == 1


def test_the_url_form_takes_the_http_options(provider: Provider, https_stub: HttpStub) -> None:
    query = urlencode(
        {
            "base_url": https_stub.https_url,
            "ca_file": https_stub.ca_file,
            "min_tls": "1.3",
            "timeout": "9",
            "connect_timeout": "1.5",
        }
    )
    transport = from_url(f"{provider.url}?{query}")
    assert isinstance(transport, HttpTransport)
    assert transport.timeout == httpx.Timeout(9.0, connect=1.5)
    with transport:
        result = transport.send(message())  # the CA from ?ca_file= is trusted, over TLS 1.3
    assert result.message_id and result.transport == provider.name


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("bogus=1", "unknown query parameter 'bogus'; this scheme takes {options}"),
        ("timeout=soon", "timeout='soon' must be a float"),
        ("min_tls=1.1", "min_tls must be '1.2' or '1.3'"),
        ("client=x", "unknown query parameter 'client'; this scheme takes {options}"),
    ],
)
def test_bad_url_options_name_the_real_ones(provider: Provider, query: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_url(f"{provider.url}?{query}")
    assert problem.format(options=provider.url_options) in str(caught.value)
    # No credential of the URL is echoed (Mailjet's API key included).
    for secret in provider.credentials.values():
        assert secret not in str(caught.value)


@pytest.mark.parametrize("keyword", ["api_key", "token", "server_token", "secret_key"])
def test_credentials_in_the_query_are_refused_and_masked(provider: Provider, keyword: str) -> None:
    with pytest.raises(ConfigurationError, match="user part") as caught:
        from_url(f"{provider.url}?{keyword}=leaked-value-123")
    assert "leaked-value-123" not in str(caught.value)


# ---------------------------------------------------------------- errors map


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    ("status", "cls"),
    [(429, RateLimited), (500, TransientError), (503, TransientError)],
)
def test_stub_faults_map(
    provider: Provider, stub: HttpStub, mode: str, status: int, cls: type[SendError]
) -> None:
    transport = provider.transport(base_url=stub.fault_url(status), name="route-b")
    with pytest.raises(cls) as caught:
        if mode == "sync":
            transport.send(message())
        else:
            run(asend_then_close(transport, message()))
    error = caught.value
    assert error.status_code == status
    assert error.transport == "route-b"
    assert error.retryable
    if status in (429, 503) and isinstance(error, RateLimited):
        assert error.retry_after == 1.0  # the stub's Retry-After
    assert stub.stats()["faults"] == {str(status): 1}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("status", "cls"), [(401, AuthenticationError), (422, MessageRejected)])
def test_real_error_bodies_map(
    provider: Provider, mode: str, status: int, cls: type[SendError]
) -> None:
    body = provider.error_bodies[status]
    with respx.mock(assert_all_called=False) as mock:
        mock.post(provider.endpoint).mock(return_value=httpx.Response(status, json=body))
        transport = provider.transport()
        with pytest.raises(cls) as caught:
            if mode == "sync":
                transport.send(message())
            else:
                run(asend_then_close(transport, message()))
    error = caught.value
    assert error.status_code == status
    assert error.transport == provider.name
    assert not error.retryable
    assert provider.name in str(error)


# ---------------------------------------------------------------- unsupported fields


@pytest.mark.parametrize("mode", ["send", "asend", "send_many", "asend_many"])
def test_unsupported_fields_raise_before_any_request(provider: Provider, mode: str) -> None:
    bad = message(**provider.unsupported)
    transport = provider.transport()
    with respx.mock(assert_all_called=False) as mock:
        anything = mock.route().mock(side_effect=lambda _: provider.success())
        with pytest.raises(InvalidMessage) as caught:
            if mode == "send":
                transport.send(bad)
            elif mode == "asend":
                run(asend_then_close(transport, bad))
            elif mode == "send_many":
                transport.send_many([message(), message(), bad])
            else:
                run(asend_many_then_close(transport, [message(), bad]))
    assert anything.call_count == 0
    assert provider.name in str(caught.value)
    assert provider.unsupported_word in str(caught.value)


# ---------------------------------------------------------------- send_many


def sequence_number(message_id: str | None) -> int:
    """The stub numbers messages 1, 2, 3... in arrival order; every id ends with it."""
    assert message_id
    return int(re.findall(r"\d+", message_id)[-1])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_send_many_keeps_input_order(provider: Provider, stub: HttpStub, mode: str) -> None:
    count = 7
    messages = [message(subject=f"n{i}") for i in range(count)]
    transport = provider.transport(base_url=stub.url)
    if mode == "sync":
        with transport:
            results = transport.send_many(messages)
    else:
        results = run(asend_many_then_close(transport, messages))
    assert len(results) == count
    assert all(isinstance(r, SendResult) for r in results), results
    numbers = [sequence_number(r.message_id) for r in results]  # type: ignore[union-attr]
    assert numbers == list(range(numbers[0], numbers[0] + count))
    stats = stub.stats()
    assert stats["messages"] == count
    assert stats["requests"] == (1 if transport.batch_limit else count)


def test_send_many_reports_each_failure_in_place(provider: Provider, stub: HttpStub) -> None:
    transport = provider.transport(base_url=stub.fault_url(500))
    with transport:
        results = transport.send_many([message(subject=f"n{i}") for i in range(3)])
    assert [type(r) for r in results] == [TransientError] * 3


# ---------------------------------------------------------------- TLS


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_https_verifies_the_certificate(
    provider: Provider, https_stub: HttpStub, mode: str
) -> None:
    def send(transport: HttpTransport) -> SendResult:
        if mode == "sync":
            with transport:
                return transport.send(message())
        result: SendResult = run(asend_then_close(transport, message()))
        return result

    trusted = provider.transport(base_url=https_stub.https_url, ca_file=https_stub.ca_file)
    assert send(trusted).message_id
    untrusted = provider.transport(base_url=https_stub.https_url)  # system trust store only
    with pytest.raises(TransientError) as caught:
        send(untrusted)
    assert caught.value.ambiguous is False  # the handshake failed: nothing was sent
    cause = caught.value.__cause__
    # httpx and unisend's aiohttp adapter (extra "fast") say ConnectError; httpx-aiohttp,
    # used before, said ConnectTimeout.
    assert isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout))
    assert "CERTIFICATE_VERIFY_FAILED" in str(cause)


# ---------------------------------------------------------------- secrets in exception chains

#: Bodies that echo the request headers (credentials included) back, as a broken proxy or
#: a chatty API might: in every field a provider's error parser reads.
ECHO_401 = (
    '{"message": "denied: {headers}", "Message": "{headers}", "ErrorCode": 10, '
    '"ErrorMessage": "{headers}", "errors": ["{headers}"], "code": "unauthorized"}'
)
ECHO_502 = "<html><body><h1>502 Bad Gateway</h1><pre>{headers}</pre></body></html>"
ECHO_BAD_JSON = '{"messageId": "{headers}'  # a 2xx whose JSON is cut off

FAILURES = ["refused", "timeout", "401", "502", "bad-json"]


def _base_url(failure: str, echo: EchoServer) -> str:
    """Point a transport at the loopback failure named ``failure``."""
    if failure == "refused":
        return refused_url()
    if failure == "timeout":
        return echo.silent_url
    status, body, kind = {
        "401": (401, ECHO_401, "application/json"),
        "502": (502, ECHO_502, "text/html"),
        "bad-json": (200, ECHO_BAD_JSON, "application/json"),
    }[failure]
    echo.answer(status, body, kind)
    return echo.url


def _outcome(transport: HttpTransport, mode: str) -> SendResult | SendError:
    """Send one message through ``transport`` (``mode``: sync, async on httpcore pools,
    async on aiohttp); the result or the SendError it raised."""
    try:
        if mode == "sync":
            with transport:
                return transport.send(message())
        result: SendResult = run(asend_then_close(transport, message()))
        return result
    except SendError as exc:
        return exc


@pytest.mark.parametrize("mode", ["sync", "async", "async-aiohttp"])
@pytest.mark.parametrize("failure", FAILURES)
def test_no_secret_is_reachable_from_an_error(
    provider: Provider,
    echo: EchoServer,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
    mode: str,
) -> None:
    """Walk everything an error tracker could serialise: message, fields, args,
    __cause__/__context__ and their attributes (an httpx error's request headers, a JSON
    error's document), the locals of unisend's frames."""
    if mode == "async-aiohttp":
        pytest.importorskip("aiohttp", reason="the aiohttp transport is the extra 'fast'")
        from unisend.transports import _async_http

        monkeypatch.setattr(_async_http, "USE_AIOHTTP", True)
    transport = provider.transport(base_url=_base_url(failure, echo), timeout=0.5)
    outcome = _outcome(transport, mode)
    secrets = [*provider.secrets(), *transport._secrets()]
    assert leaks(outcome, secrets) == []
    if failure == "bad-json":
        return  # success or an ambiguous error, per provider: the secrets are what counts
    assert isinstance(outcome, SendError)
    assert outcome.transport == provider.name
    if failure in ("refused", "timeout"):
        assert isinstance(outcome, TransientError)
        # the reason is kept, in words, and the stand-in cause is the httpx error's class
        assert isinstance(outcome.__cause__, httpx.TransportError)
        assert outcome.__context__ is None
    if failure == "refused":
        assert "connection refused" in str(outcome)
        assert outcome.ambiguous is False
    if failure == "timeout":
        assert "no answer within 0.5 s after the request was sent" in str(outcome)
        assert outcome.ambiguous is True
    if failure == "401":
        assert isinstance(outcome, AuthenticationError)
        assert outcome.status_code == 401
    if failure == "502":
        assert isinstance(outcome, TransientError) and outcome.status_code == 502


@pytest.mark.parametrize("failure", ["refused", "401", "502"])
def test_no_secret_in_send_many_outcomes_or_through_a_mailer(
    provider: Provider, echo: EchoServer, failure: str
) -> None:
    transport = provider.transport(base_url=_base_url(failure, echo), timeout=0.5)
    with transport:
        outcomes = transport.send_many([message(subject="one"), message(subject="two")])
    assert all(isinstance(o, SendError) for o in outcomes)
    secrets = [*provider.secrets(), *transport._secrets()]
    assert leaks(outcomes, secrets) == []
    mailer = Mailer(transport, retry=RetryPolicy(attempts=2, backoff=0))
    with pytest.raises(SendError) as caught, mailer:
        mailer.send(message())
    assert leaks(caught.value, secrets) == []


def test_the_scan_finds_what_httpx_keeps(provider: Provider) -> None:
    """The walk is not blind: a raw httpx error from the same request holds the secret in
    its request headers (what unisend used to chain)."""
    transport = provider.transport(base_url=refused_url())
    try:
        with transport._sync_client() as client:
            client.request(
                **transport._outgoing(transport._build_request(message()), for_async=False)[0]
            )
    except httpx.ConnectError as exc:
        raw = exc
    else:  # pragma: no cover - nothing listens there
        pytest.fail("the connection was not refused")
    found = leaks(raw, [*provider.secrets(), *transport._secrets()])
    assert any("headers" in where for where in found), found


#: Credentials with every character a URL or a header parser might trip on.
_KEY_CHARS = st.text(
    alphabet=st.sampled_from("abcXYZ019/+#?()=%@:!$&'*,;[]~-._"), min_size=6, max_size=40
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=_KEY_CHARS, failure=st.sampled_from(["refused", "401", "502"]))
def test_random_credentials_never_leak(
    provider: Provider, echo: EchoServer, key: str, failure: str
) -> None:
    import unisend.transports as transports

    credentials = {name: f"Qz{key}{index}Wv" for index, name in enumerate(provider.credentials)}
    cls = getattr(transports, provider.cls_name)
    transport = cls(**credentials, base_url=_base_url(failure, echo), timeout=0.5)
    outcome = _outcome(transport, "sync")
    assert isinstance(outcome, SendError)
    assert leaks(outcome, [*credentials.values(), *transport._secrets()]) == []


def _unresolvable(request: httpx.Request) -> httpx.Response:
    """What httpx raises when the resolver says no: the OS error under httpcore's, under
    httpx's, which holds the request (the machine's resolver is not asked: no network)."""
    lookup = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    try:
        raise httpcore.ConnectError(str(lookup)) from lookup
    except httpcore.ConnectError as inner:
        raise httpx.ConnectError(str(inner), request=request) from inner


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_name_that_does_not_resolve_is_said_so(provider: Provider, mode: str) -> None:
    base_url = "https://api.nowhere.example"
    if mode == "sync":
        client = httpx.Client(transport=httpx.MockTransport(_unresolvable))
        transport = provider.transport(base_url=base_url, client=client)
    else:
        aclient = httpx.AsyncClient(transport=httpx.MockTransport(_unresolvable))
        transport = provider.transport(base_url=base_url, async_client=aclient)
    error = _outcome(transport, mode)
    assert isinstance(error, TransientError) and error.ambiguous is False
    assert (
        f"{provider.name}: {base_url}: cannot connect: the name api.nowhere.example does not "
        "resolve (Name or service not known)"
    ) in str(error)
    assert type(error.__cause__) is httpx.ConnectError
    assert leaks(error, [*provider.secrets(), *transport._secrets()]) == []


@pytest.mark.parametrize("mode", ["sync", "async", "async-aiohttp"])
def test_an_untrusted_certificate_is_said_so(
    provider: Provider, https_stub: HttpStub, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from unisend.transports import _async_http

    monkeypatch.setattr(_async_http, "USE_AIOHTTP", mode == "async-aiohttp")
    transport = provider.transport(base_url=https_stub.https_url)  # system trust store only
    error = _outcome(transport, mode)
    assert isinstance(error, TransientError)
    assert "cannot connect: the TLS certificate of 127.0.0.1 is not trusted" in str(error)
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)
    assert leaks(error, [*provider.secrets(), *transport._secrets()]) == []
