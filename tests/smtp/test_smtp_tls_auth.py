"""TLS and AUTH against real loopback servers: STARTTLS, implicit TLS, verification."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from servers.smtp import PASSWORD, USER, SMTPServer, TestCA

from unisend import (
    AuthenticationError,
    ConfigurationError,
    Mailer,
    Message,
    ProviderError,
)
from unisend._tls import client_context
from unisend.transports.smtp import SMTPTransport

Factory = Callable[..., SMTPServer]
TransportFor = Callable[..., SMTPTransport]
MakeMessage = Callable[..., Message]


def test_starttls_with_auth_plain(
    smtp_starttls: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    result = transport_for(smtp_starttls).send(make_message())
    assert result.transport == "smtp"
    assert len(smtp_starttls.messages) == 1
    commands = smtp_starttls.recorder.commands
    assert commands.index("STARTTLS") < commands.index("AUTH") < commands.index("MAIL")
    assert smtp_starttls.recorder.auth == [("PLAIN", USER, True)]


def test_starttls_with_auth_login_when_plain_is_not_offered(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(tls="starttls", auth=True, auth_exclude=["PLAIN"])
    transport_for(server).send(make_message())
    assert server.recorder.auth == [("LOGIN", USER, True)]
    assert len(server.messages) == 1


def test_implicit_tls_with_auth(
    smtp_implicit_tls: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport_for(smtp_implicit_tls).send(make_message())
    assert "STARTTLS" not in smtp_implicit_tls.recorder.commands
    assert smtp_implicit_tls.recorder.auth == [("PLAIN", USER, True)]
    assert len(smtp_implicit_tls.messages) == 1


def test_ssl_context_replaces_the_library_context(
    smtp_implicit_tls: SMTPServer,
    smtp_ca: TestCA,
    transport_for: TransportFor,
    make_message: MakeMessage,
) -> None:
    context = smtp_ca.client_context()
    transport = transport_for(smtp_implicit_tls, ca_file=None, ssl_context=context)
    transport.send(make_message())
    assert len(smtp_implicit_tls.messages) == 1


def test_ssl_cert_file_environment_is_honoured(
    smtp_starttls: SMTPServer,
    smtp_ca: TestCA,
    monkeypatch: pytest.MonkeyPatch,
    transport_for: TransportFor,
    make_message: MakeMessage,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", smtp_ca.ca_file)
    transport_for(smtp_starttls, ca_file=None).send(make_message())
    assert len(smtp_starttls.messages) == 1


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_untrusted_certificate_is_refused(
    smtp_server_factory: Factory,
    transport_for: TransportFor,
    make_message: MakeMessage,
    tls: str,
) -> None:
    server = smtp_server_factory(tls=tls, auth=True)
    other_ca = TestCA()  # the client trusts a different CA than the server's
    transport = transport_for(server, ca_file=other_ca.ca_file)
    with pytest.raises(ProviderError, match="certificate is not trusted") as caught:
        transport.send(make_message())
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    assert server.messages == []
    assert "AUTH" not in server.recorder.commands
    assert server.recorder.auth == []


def test_system_trust_store_does_not_trust_a_private_ca(
    smtp_starttls: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    with pytest.raises(ProviderError, match="not trusted"):
        transport_for(smtp_starttls, ca_file=None).send(make_message())
    assert smtp_starttls.messages == []
    assert smtp_starttls.recorder.auth == []


def test_hostname_is_verified(
    smtp_server_factory: Factory, tmp_path: Path, make_message: MakeMessage
) -> None:
    wrong_name = TestCA(str(tmp_path), hostnames=("mail.example.org",))
    server = smtp_server_factory(tls="starttls", auth=True, ca=wrong_name)
    transport = SMTPTransport(
        server.host, server.port, username=USER, password=PASSWORD, ca_file=wrong_name.ca_file
    )
    with pytest.raises(ProviderError, match="not trusted") as caught:
        transport.send(make_message())
    transport.close()
    assert "mismatch" in str(caught.value).lower()
    assert server.messages == []
    assert server.recorder.auth == []


def test_starttls_required_but_not_offered(
    smtp_server_factory: Factory, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(auth=True)  # plain server that advertises AUTH
    transport = SMTPTransport(server.host, server.port, username=USER, password=PASSWORD)
    with pytest.raises(ProviderError, match="does not offer STARTTLS") as caught:
        transport.send(make_message())
    assert PASSWORD not in str(caught.value)
    assert "AUTH" not in server.recorder.commands
    assert "MAIL" not in server.recorder.commands
    assert server.recorder.auth == []
    assert server.messages == []


def test_plain_server_advertising_auth_gets_no_credentials(
    smtp_server_factory: Factory,
) -> None:
    server = smtp_server_factory(auth=True)
    with pytest.raises(ConfigurationError, match="allow_insecure_auth"):
        SMTPTransport(server.host, server.port, username=USER, password=PASSWORD, security="none")
    assert server.recorder.connections == 0
    assert server.recorder.auth == []


def test_insecure_auth_only_when_opted_in_by_name(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(auth=True)
    transport_for(server, allow_insecure_auth=True).send(make_message())
    assert server.recorder.auth == [("PLAIN", USER, True)]
    assert len(server.messages) == 1


def test_min_tls_13_refuses_a_tls_12_only_server(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(tls="starttls", auth=True, max_tls=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ProviderError, match="TLS handshake failed"):
        transport_for(server, min_tls="1.3").send(make_message())
    assert server.messages == []
    assert server.recorder.auth == []
    # the default floor (1.2) still talks to it
    transport_for(server).send(make_message())
    assert len(server.messages) == 1


def test_wrong_password_is_an_authentication_error(
    smtp_starttls: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    wrong = "not-the-Passw0rd"
    with pytest.raises(AuthenticationError) as caught:
        transport_for(smtp_starttls, password=wrong).send(make_message())
    error = caught.value
    assert error.status_code == 535
    assert error.transport == "smtp"
    assert not error.retryable
    assert wrong not in str(error) and wrong not in repr(error)
    # one wrong password is one failed login on the server (issue 14), then QUIT
    assert smtp_starttls.recorder.auth == [("PLAIN", USER, False)]
    assert smtp_starttls.recorder.commands[-1] == "QUIT"
    assert smtp_starttls.messages == []


def test_mailer_context_with_starttls(
    smtp_starttls: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    with Mailer(transport_for(smtp_starttls)) as mailer:
        mailer.send(make_message())
        mailer.send(make_message())
    assert smtp_starttls.recorder.connections == 1
    assert smtp_starttls.recorder.commands.count("STARTTLS") == 1
    assert smtp_starttls.recorder.commands[-1] == "QUIT"


# -- _tls ----------------------------------------------------------------------------


def test_client_context_is_cached_and_verifying(smtp_ca: TestCA) -> None:
    first = client_context()
    assert client_context() is first
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname
    assert first.minimum_version == ssl.TLSVersion.TLSv1_2
    strict = client_context("1.3")
    assert strict is not first and strict.minimum_version == ssl.TLSVersion.TLSv1_3
    assert client_context(ca_file=smtp_ca.ca_file) is client_context(ca_file=smtp_ca.ca_file)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_tls": "1.1"}, "min_tls"),
        ({"ca_file": "/nonexistent/ca.pem"}, "does not exist"),
    ],
)
def test_bad_tls_options_are_configuration_errors(kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        SMTPTransport("smtp.example.com", **kwargs)  # type: ignore[arg-type]
