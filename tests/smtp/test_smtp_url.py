"""The smtp:// and smtps:// configuration URLs and constructor validation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from servers.smtp import PASSWORD, USER, SMTPServer, TestCA

from unisend import ConfigurationError, Mailer, Message, from_url
from unisend.transports.smtp import SMTPTransport

MakeMessage = Callable[..., Message]


def smtp(url: str) -> SMTPTransport:
    transport = from_url(url)
    assert isinstance(transport, SMTPTransport)
    return transport


def test_smtp_with_credentials_defaults_to_starttls_on_587() -> None:
    transport = smtp("smtp://user%40example.com:p%40ss%3Aw%2Frd@mail.example.com")
    assert (transport.host, transport.port, transport.security) == (
        "mail.example.com",
        587,
        "starttls",
    )
    assert transport.username == "user@example.com"
    assert transport._login is not None
    assert transport._login.password == "p@ss:w/rd"  # percent-decoded
    assert transport.name == "smtp"
    assert "p@ss" not in repr(transport)


def test_smtps_is_implicit_tls_on_465() -> None:
    transport = smtp("smtps://u:p@mail.example.com")
    assert (transport.port, transport.security, transport.name) == (465, "ssl", "smtp")
    assert smtp("smtps://u:p@mail.example.com:2465").port == 2465


def test_plain_smtp_without_credentials() -> None:
    transport = smtp("smtp://relay.internal:25?security=none")
    assert (transport.port, transport.security, transport.username) == (25, "none", None)


def test_plain_smtp_with_credentials_needs_the_opt_in() -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_auth") as caught:
        smtp("smtp://u:secret-pw@relay.internal:25?security=none")
    assert "secret-pw" not in str(caught.value)
    transport = smtp("smtp://u:secret-pw@relay.internal:25?security=none&allow_insecure_auth=true")
    assert transport.allow_insecure_auth is True


def test_query_options_map_onto_keywords(smtp_ca: TestCA) -> None:
    transport = smtp(
        f"smtp://u:p@mail.example.com?min_tls=1.3&timeout=10&ca_file={smtp_ca.ca_file}"
        "&name=primary&local_hostname=client.example.com"
    )
    assert transport.min_tls == "1.3"
    assert transport.timeout == 10.0
    assert transport.name == "primary"
    assert transport.local_hostname == "client.example.com"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("smtp://", "host"),
        ("smtp://u:p@:587", "host"),
        ("smtp://u@mail.example.com", "without a password"),
        ("smtp://mail.example.com?security=tls", "security"),
        ("smtp://mail.example.com?min_tls=1.0", "min_tls"),
        ("smtp://mail.example.com?timeout=soon", "timeout"),
        ("smtp://mail.example.com?bogus=1", "unknown query parameter"),
        ("smtps://mail.example.com?security=starttls", "security=ssl"),
        ("smtp://mail.example.com?ca_file=/nonexistent.pem", "does not exist"),
    ],
)
def test_bad_urls_are_configuration_errors(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        from_url(url)


def test_url_transport_delivers(
    smtp_starttls: SMTPServer, smtp_ca: TestCA, make_message: MakeMessage
) -> None:
    url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{smtp_starttls.port}?ca_file={smtp_ca.ca_file}"
    with Mailer.from_url(url) as mailer:
        mailer.send(make_message())
    assert len(smtp_starttls.messages) == 1
    assert smtp_starttls.recorder.auth == [("PLAIN", USER, True)]


def test_smtps_url_delivers(
    smtp_implicit_tls: SMTPServer, smtp_ca: TestCA, make_message: MakeMessage
) -> None:
    url = f"smtps://{USER}:{PASSWORD}@127.0.0.1:{smtp_implicit_tls.port}?ca_file={smtp_ca.ca_file}"
    with Mailer.from_url(url) as mailer:
        mailer.send(make_message())
    assert len(smtp_implicit_tls.messages) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"port": 0}, "port"),
        ({"port": True}, "port"),
        ({"username": "u"}, "without a password"),
        ({"password": "p"}, "without a username"),
        ({"timeout": 0}, "timeout"),
        ({"security": "tls"}, "security"),
        ({"ssl_context": "yes"}, "ssl_context"),
    ],
)
def test_constructor_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        SMTPTransport("mail.example.com", **kwargs)  # type: ignore[arg-type]


def test_template_only_messages_are_refused_before_io(make_message: MakeMessage) -> None:
    from unisend import InvalidMessage

    transport = SMTPTransport("127.0.0.1", 9, security="none")  # nothing listens on 9
    with pytest.raises(InvalidMessage, match="template_id"):
        transport.send(make_message(text=None, template_id="welcome"))
