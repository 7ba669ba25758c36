"""Errors that lead somewhere (issue 9, items 7, 15, 16 and 19): a wrong scheme for the
port, a local server without TLS, QUIT after refusals, the EHLO name, and a reply caused
by the message that must not cool a route down."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from servers.smtp import PASSWORD, USER, Faults, SMTPServer, TestCA

from unisend import (
    Failover,
    Mailer,
    Message,
    MessageRejected,
    ProviderError,
    TransientError,
    from_url,
)
from unisend.transports.smtp import SMTPTransport, _session

Factory = Callable[..., SMTPServer]
TransportFor = Callable[..., SMTPTransport]
MakeMessage = Callable[..., Message]


class SilentServer:
    """Accepts TCP connections and never says a word, as an implicit-TLS port does to a
    client that does not start TLS."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


# -- item 15: the scheme does not match the port -------------------------------------------


def test_no_greeting_is_a_timeout_that_says_use_smtps(
    silent_server: SilentServer, make_message: MakeMessage
) -> None:
    url = f"smtp://127.0.0.1:{silent_server.port}?security=none&timeout=0.5"
    with Mailer.from_url(url) as mailer, pytest.raises(ProviderError) as caught:
        mailer.send(make_message())
    text = str(caught.value)
    assert "timed out after 0.5s waiting for the server's greeting" in text
    assert f"use smtps://127.0.0.1:{silent_server.port}" in text
    # not retried: one connection, one timeout (not three)
    assert len(silent_server.accepted) == 1


def test_no_greeting_hint_in_keyword_syntax(
    silent_server: SilentServer, make_message: MakeMessage
) -> None:
    transport = SMTPTransport("127.0.0.1", silent_server.port, security="none", timeout=0.5)
    with pytest.raises(ProviderError, match="use security='ssl'"):
        transport.send(make_message())


def test_smtps_at_a_starttls_port_names_the_scheme(
    smtp_starttls: SMTPServer, smtp_ca: TestCA, make_message: MakeMessage
) -> None:
    port = smtp_starttls.port
    url = f"smtps://{USER}:{PASSWORD}@127.0.0.1:{port}?ca_file={smtp_ca.ca_file}&timeout=5"
    with Mailer.from_url(url) as mailer, pytest.raises(ProviderError) as caught:
        mailer.send(make_message())
    text = str(caught.value)
    assert "answered in plain text" in text
    assert f"use smtp://127.0.0.1:{port} for it" in text
    assert PASSWORD not in text
    assert smtp_starttls.recorder.connections == 1  # not retried


# -- item 16: a local development server without STARTTLS ----------------------------------


def test_local_server_without_starttls_says_security_none_as_a_url(
    smtp_plain: SMTPServer, make_message: MakeMessage
) -> None:
    transport = from_url(f"smtp://127.0.0.1:{smtp_plain.port}")
    with pytest.raises(ProviderError) as caught:
        transport.send(make_message())
    transport.close()
    assert "use ?security=none;" in str(caught.value)
    assert smtp_plain.recorder.commands[-1] == "QUIT"


def test_with_credentials_the_url_hint_adds_allow_insecure_auth(
    smtp_plain: SMTPServer, make_message: MakeMessage
) -> None:
    transport = from_url(f"smtp://{USER}:{PASSWORD}@127.0.0.1:{smtp_plain.port}")
    with pytest.raises(ProviderError) as caught:
        transport.send(make_message())
    transport.close()
    assert "use ?security=none&allow_insecure_auth=true;" in str(caught.value)
    # and what it says works
    url = f"smtp://127.0.0.1:{smtp_plain.port}?security=none"
    with Mailer.from_url(url) as mailer:
        mailer.send(make_message())
    assert len(smtp_plain.messages) == 1


def test_keyword_hint_is_in_python_syntax(
    smtp_plain: SMTPServer, make_message: MakeMessage
) -> None:
    transport = SMTPTransport("127.0.0.1", smtp_plain.port, username=USER, password=PASSWORD)
    with pytest.raises(ProviderError, match="security='none', allow_insecure_auth=True"):
        transport.send(make_message())
    transport.close()


# -- item 19: QUIT after refusals; the EHLO name -------------------------------------------


def test_quit_after_a_refused_starttls(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(
        tls="starttls", auth=True, faults=Faults(starttls="454 4.7.0 TLS not available")
    )
    with pytest.raises(TransientError, match="STARTTLS refused: 454") as caught:
        transport_for(server).send(make_message())
    assert "nothing was sent" in str(caught.value)
    assert server.recorder.commands == ["EHLO", "STARTTLS", "QUIT"]


def test_ehlo_name_is_the_address_literal_without_an_fqdn(
    smtp_plain: SMTPServer,
    transport_for: TransportFor,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_session, "_machine_fqdn", lambda: None)
    transport_for(smtp_plain).send(make_message())
    assert smtp_plain.recorder.ehlo_names == ["[127.0.0.1]"]


def test_ehlo_name_is_the_fqdn_when_the_machine_has_one(
    smtp_plain: SMTPServer,
    transport_for: TransportFor,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_session, "_machine_fqdn", lambda: "mail1.example.net")
    transport_for(smtp_plain).send(make_message())
    assert smtp_plain.recorder.ehlo_names == ["mail1.example.net"]


def test_ehlo_name_literal_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_session, "_machine_fqdn", lambda: None)
    with socket.socket(socket.AF_INET) as v4:
        v4.bind(("127.0.0.1", 0))
        assert _session.ehlo_name(v4) == "[127.0.0.1]"
    with socket.socket(socket.AF_INET6) as v6:
        try:
            v6.bind(("::1", 0))
        except OSError:
            return  # no IPv6 loopback here; the IPv4 form was checked
        assert _session.ehlo_name(v6) == "[IPv6:::1]"


def test_the_configured_ehlo_name_wins(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport_for(smtp_plain, local_hostname="relay.example.org").send(make_message())
    assert smtp_plain.recorder.ehlo_names == ["relay.example.org"]


# -- item 7: a message-caused refusal never cools a route down -----------------------------


def test_line_too_long_after_data_does_not_cool_the_route(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    first = smtp_server_factory(faults=Faults(data="500 5.5.2 Line too long"))
    second = smtp_server_factory()
    router = Failover([transport_for(first, name="first"), transport_for(second, name="second")])
    with Mailer(router) as mailer:
        with pytest.raises(MessageRejected, match="Line too long"):
            mailer.send(make_message())
        assert second.messages == []  # refused everywhere: not tried on the next route
        assert [h.state for h in router.health()] == ["healthy", "healthy"]
        first.faults.data = None
        mailer.send(make_message())
    assert len(first.messages) == 1 and second.messages == []
