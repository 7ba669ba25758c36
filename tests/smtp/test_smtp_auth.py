"""AUTH mechanisms against loopback aiosmtpd servers offering PLAIN, LOGIN, CRAM-MD5 and
XOAUTH2: the mechanism used, the number of attempts the server saw, UTF-8 credentials,
XOAUTH2 tokens (string, sync and async providers) and the server's JSON error."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from servers.smtp import PASSWORD, USER, Faults, SMTPServer

from unisend import (
    AsyncMailer,
    AuthenticationError,
    ConfigurationError,
    Mailer,
    Message,
    ProviderError,
    TransientError,
    from_url,
)
from unisend.transports.smtp import SMTPTransport

Factory = Callable[..., SMTPServer]
TransportFor = Callable[..., SMTPTransport]
MakeMessage = Callable[..., Message]

TOKEN = "ya29.a0AfH6SMB-test-token_1234"
UTF8_PASSWORD = "pässwörd-日本語-🔑"


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    """No exception in the chain carries a secret, in its text, args or attributes."""
    for link in _chain(exc):
        texts = [str(link), repr(link), *map(repr, link.args), *map(repr, vars(link).values())]
        for secret in secrets:
            assert not any(secret in text for text in texts), f"{secret!r} in {link!r}"


def server_with_all(factory: Factory, **kwargs: Any) -> SMTPServer:
    return factory(tls="starttls", auth=True, cram_md5=True, xoauth2_token=TOKEN, **kwargs)


# -- choosing a mechanism ----------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5"])
def test_each_mechanism_can_be_forced(
    smtp_server_factory: Factory,
    transport_for: TransportFor,
    make_message: MakeMessage,
    mechanism: str,
) -> None:
    server = server_with_all(smtp_server_factory)
    transport = transport_for(server, auth=mechanism)
    transport.send(make_message())
    assert server.recorder.auth == [(mechanism.upper(), USER, True)]
    assert len(server.messages) == 1


@pytest.mark.parametrize(
    ("exclude", "chosen"),
    [
        ([], "CRAM-MD5"),
        (["CRAM-MD5"], "PLAIN"),
        (["CRAM-MD5", "PLAIN"], "LOGIN"),
    ],
)
def test_automatic_choice_is_the_strongest_offered(
    smtp_server_factory: Factory,
    transport_for: TransportFor,
    make_message: MakeMessage,
    exclude: list[str],
    chosen: str,
) -> None:
    server = smtp_server_factory(tls="starttls", auth=True, cram_md5=True, auth_exclude=exclude)
    transport_for(server).send(make_message())
    assert server.recorder.auth == [(chosen, USER, True)]


@pytest.mark.parametrize("mechanism", [None, "plain", "login", "cram-md5"])
def test_a_wrong_password_is_one_failed_login_then_quit(
    smtp_server_factory: Factory,
    transport_for: TransportFor,
    make_message: MakeMessage,
    mechanism: str | None,
) -> None:
    server = server_with_all(smtp_server_factory)
    wrong = "Wrong-Passw0rd-xyz"
    with pytest.raises(AuthenticationError) as caught:
        transport_for(server, password=wrong, auth=mechanism).send(make_message())
    assert caught.value.status_code == 535
    assert len(server.recorder.auth) == 1  # never the next mechanism
    assert server.recorder.auth[0][2] is False
    assert server.recorder.commands.count("AUTH") == 1
    assert server.recorder.commands[-1] == "QUIT"  # no "lost connection after AUTH"
    assert_no_secret(caught.value, wrong)


def test_a_mailer_does_not_retry_a_refused_login(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = server_with_all(smtp_server_factory)
    with (
        Mailer(transport_for(server, password="Wrong-Passw0rd-xyz")) as mailer,
        pytest.raises(AuthenticationError),
    ):
        mailer.send(make_message())
    assert len(server.recorder.auth) == 1


def test_a_forced_mechanism_the_server_lacks_sends_no_credentials(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(tls="starttls", auth=True)  # PLAIN LOGIN
    with pytest.raises(ProviderError, match=r"auth='cram-md5' is not offered.*LOGIN PLAIN"):
        transport_for(server, auth="cram-md5").send(make_message())
    assert "AUTH" not in server.recorder.commands
    assert server.recorder.commands[-1] == "QUIT"


# -- UTF-8 credentials (RFC 4616) ----------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5"])
def test_a_non_ascii_password_works(
    smtp_server_factory: Factory,
    transport_for: TransportFor,
    make_message: MakeMessage,
    mechanism: str,
) -> None:
    server = server_with_all(smtp_server_factory, password=UTF8_PASSWORD)
    transport_for(server, password=UTF8_PASSWORD, auth=mechanism).send(make_message())
    assert server.recorder.auth == [(mechanism.upper(), USER, True)]


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5"])
def test_a_wrong_non_ascii_password_never_escapes_in_an_error(
    smtp_server_factory: Factory,
    transport_for: TransportFor,
    make_message: MakeMessage,
    mechanism: str,
) -> None:
    server = server_with_all(smtp_server_factory)
    with pytest.raises(AuthenticationError) as caught:
        transport_for(server, password=UTF8_PASSWORD, auth=mechanism).send(make_message())
    assert_no_secret(caught.value, UTF8_PASSWORD)


def test_a_password_with_a_lone_surrogate_is_refused_without_echo() -> None:
    bad = "secret-\udcff-pass"
    with pytest.raises(ConfigurationError, match="lone surrogate") as caught:
        SMTPTransport("smtp.example.com", username=USER, password=bad)
    assert_no_secret(caught.value, bad, "secret-")


# -- XOAUTH2 -----------------------------------------------------------------------------


def test_xoauth2_with_a_token_string(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = server_with_all(smtp_server_factory)
    transport = transport_for(server, password=None, oauth_token=TOKEN)
    assert transport.auth == "xoauth2"
    transport.send(make_message())
    assert server.recorder.xoauth2 == [f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01".encode()]
    assert server.recorder.auth == [("XOAUTH2", USER, True)]
    assert len(server.messages) == 1


def test_xoauth2_provider_is_called_once_per_connection(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = server_with_all(smtp_server_factory)
    calls: list[int] = []

    def provider() -> str:
        calls.append(1)
        return TOKEN

    transport = transport_for(server, password=None, oauth_token=provider)
    transport.send(make_message())
    transport.send(make_message())  # the same connection: no new token
    assert len(calls) == 1
    transport.close()
    transport.send(make_message())  # a new connection: a fresh token
    assert len(calls) == 2
    assert server.recorder.connections == 2
    assert len(server.messages) == 3


async def test_xoauth2_async_provider_runs_on_the_callers_loop(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = server_with_all(smtp_server_factory)
    loops: list[asyncio.AbstractEventLoop] = []

    async def provider() -> str:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return TOKEN

    transport = transport_for(server, password=None, oauth_token=provider)
    async with AsyncMailer(transport) as mailer:
        await mailer.send(make_message())
    assert loops == [asyncio.get_running_loop()]
    assert server.recorder.auth == [("XOAUTH2", USER, True)]


def test_xoauth2_async_provider_from_sync_send(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = server_with_all(smtp_server_factory)

    async def provider() -> str:
        return TOKEN

    transport_for(server, password=None, oauth_token=provider).send(make_message())
    assert server.recorder.auth == [("XOAUTH2", USER, True)]


def test_xoauth2_bad_token_decodes_the_json_challenge(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = server_with_all(smtp_server_factory)
    bad = "ya29.expired-token-abcdef"
    with pytest.raises(AuthenticationError) as caught:
        transport_for(server, password=None, oauth_token=bad).send(make_message())
    error = caught.value
    assert error.status_code == 535 and error.provider_code == "5.7.8"
    assert "status 401" in str(error)
    assert "scope https://mail.google.com/" in str(error)
    assert server.recorder.xoauth2_after_challenge == [b"\r\n"]  # the empty response
    assert len(server.recorder.auth) == 1
    assert server.recorder.commands[-1] == "QUIT"
    assert_no_secret(error, bad)


def test_xoauth2_token_is_the_password_in_a_url(
    smtp_server_factory: Factory, smtp_ca: Any, make_message: MakeMessage
) -> None:
    server = server_with_all(smtp_server_factory)
    url = (
        f"smtp://{USER}:{TOKEN}@{server.host}:{server.port}?auth=xoauth2&ca_file={smtp_ca.ca_file}"
    )
    transport = from_url(url)
    try:
        assert isinstance(transport, SMTPTransport) and transport.auth == "xoauth2"
        assert TOKEN not in repr(transport)
        transport.send(make_message())
    finally:
        transport.close()
    assert server.recorder.auth == [("XOAUTH2", USER, True)]


def test_auth_in_a_url_forces_the_mechanism(
    smtp_server_factory: Factory, smtp_ca: Any, make_message: MakeMessage
) -> None:
    server = server_with_all(smtp_server_factory)
    url = (
        f"smtp://{USER}:{PASSWORD}@{server.host}:{server.port}?auth=login&ca_file={smtp_ca.ca_file}"
    )
    with Mailer.from_url(url) as mailer:
        mailer.send(make_message())
    assert server.recorder.auth == [("LOGIN", USER, True)]


def test_a_failing_token_provider_is_an_authentication_error(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = server_with_all(smtp_server_factory)

    def provider() -> str:
        raise RuntimeError("the identity provider is down")

    with pytest.raises(AuthenticationError, match="oauth_token provider raised RuntimeError"):
        transport_for(server, password=None, oauth_token=provider).send(make_message())
    assert server.recorder.auth == []
    assert server.recorder.commands[-1] == "QUIT"


@pytest.mark.parametrize(
    ("returned", "match"),
    [(None, "non-empty str"), ("", "non-empty str"), ("Bearer abc", "without spaces")],
)
def test_a_token_provider_returning_a_wrong_value(
    smtp_server_factory: Factory,
    transport_for: TransportFor,
    make_message: MakeMessage,
    returned: Any,
    match: str,
) -> None:
    server = server_with_all(smtp_server_factory)
    with pytest.raises(ConfigurationError, match=match):
        transport_for(server, password=None, oauth_token=lambda: returned).send(make_message())
    assert server.recorder.auth == []


# -- provider-specific refusals ------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
            "basic authentication.*XOAUTH2",
        ),
        (
            "550 5.7.30 Basic authentication is not supported for Client Submission.",
            "basic authentication.*XOAUTH2",
        ),
        ("534 5.7.9 Application-specific password required.", "app password"),
    ],
)
def test_provider_auth_refusals_say_what_to_do(
    smtp_server_factory: Factory,
    transport_for: TransportFor,
    make_message: MakeMessage,
    reply: str,
    match: str,
) -> None:
    server = smtp_server_factory(tls="starttls", auth=True, faults=Faults(auth=reply))
    with pytest.raises(AuthenticationError, match=match) as caught:
        transport_for(server).send(make_message())
    assert caught.value.status_code == int(reply[:3])
    assert len(server.recorder.auth) == 1
    assert server.recorder.commands[-1] == "QUIT"


def test_a_temporary_auth_failure_is_transient(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    reply = "454 4.7.0 Temporary authentication failure"
    server = smtp_server_factory(tls="starttls", auth=True, faults=Faults(auth=reply))
    with pytest.raises(TransientError) as caught:
        transport_for(server).send(make_message())
    assert caught.value.status_code == 454


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"username": USER, "password": PASSWORD, "auth": "digest-md5"}, "not one of"),
        ({"username": USER, "password": PASSWORD, "oauth_token": TOKEN}, "not both"),
        ({"username": USER, "oauth_token": TOKEN, "auth": "plain"}, "auth='xoauth2'"),
        ({"username": USER, "auth": "xoauth2"}, "needs oauth_token"),
        ({"oauth_token": TOKEN}, "without a username"),
        ({"auth": "plain"}, "needs a username"),
        ({"username": USER, "oauth_token": 42}, "callable"),
    ],
)
def test_credential_options_are_checked_together(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as caught:
        SMTPTransport("smtp.example.com", **kwargs)
    assert_no_secret(caught.value, PASSWORD, TOKEN)


def test_insecure_auth_covers_tokens() -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_auth"):
        SMTPTransport("smtp.example.com", 25, security="none", username=USER, oauth_token=TOKEN)


@pytest.mark.parametrize(
    ("mechanism", "available", "has_token", "expected"),
    [
        (None, ["PLAIN", "LOGIN", "CRAM-MD5"], False, "CRAM-MD5"),
        (None, ["LOGIN", "PLAIN"], False, "PLAIN"),
        (None, ["LOGIN", "XOAUTH2"], True, "XOAUTH2"),
        ("login", ["LOGIN", "PLAIN"], False, "LOGIN"),
        (None, [], False, "does not offer AUTH"),
        (None, ["XOAUTH2"], False, "wants an OAuth access token"),
        (None, ["GSSAPI", "NTLM"], False, "none of which unisend speaks"),
        (None, ["PLAIN"], True, "does not offer XOAUTH2"),
    ],
)
def test_choose_a_mechanism(
    mechanism: str | None, available: list[str], has_token: bool, expected: str
) -> None:
    from unisend.transports.smtp._sasl import _NoMechanism, choose

    try:
        chosen = choose(mechanism, available, has_token)
    except _NoMechanism as exc:
        chosen = str(exc)
    assert expected in chosen
