"""The SMTP error map (docs/smtp.md), checked against a real fault-injecting server."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from servers.smtp import Faults, SMTPServer

from unisend import (
    AuthenticationError,
    Mailer,
    Message,
    MessageRejected,
    ProviderError,
    RateLimited,
    RetryPolicy,
    SendError,
    TransientError,
)
from unisend.transports.smtp import SMTPTransport

Factory = Callable[..., SMTPServer]
TransportFor = Callable[..., SMTPTransport]
MakeMessage = Callable[..., Message]

TWO = ["Bob <bob@example.com>", "carl@example.com"]


def fault_server(factory: Factory, **faults: object) -> SMTPServer:
    return factory(faults=Faults(**faults))  # type: ignore[arg-type]


def send_error(transport: SMTPTransport, message: Message) -> SendError:
    with pytest.raises(SendError) as caught:
        transport.send(message)
    return caught.value


def test_421_greeting_is_transient(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = fault_server(smtp_server_factory, greeting="421 4.3.2 Service not available")
    error = send_error(transport_for(server), make_message())
    assert type(error) is TransientError
    assert error.retryable and not error.ambiguous
    assert (error.status_code, error.provider_code) == (421, "4.3.2")
    assert server.messages == []


def test_421_greeting_with_rate_wording_is_rate_limited(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = fault_server(
        smtp_server_factory, greeting="421 4.7.0 Too many connections from your IP, slow down"
    )
    error = send_error(transport_for(server), make_message())
    assert isinstance(error, RateLimited)
    assert error.status_code == 421


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("451 4.3.0 Temporary local problem", TransientError),
        ("452 4.5.3 Rate limit exceeded, try again later", RateLimited),
        ("552 5.3.4 Message size exceeds fixed limit", MessageRejected),
        # After the body a 5xx is about the message (issue 9 item 7): it must not cool
        # the route down, unless it speaks of the sender or the account.
        ("554 5.7.1 Rejected by policy", MessageRejected),
        ("500 5.5.2 Line too long", MessageRejected),
        ("550 5.6.0 Message content rejected", MessageRejected),
        ("554 5.7.1 Sender address not verified", ProviderError),
    ],
)
def test_replies_to_the_end_of_data(
    smtp_server_factory: Factory,
    transport_for: TransportFor,
    make_message: MakeMessage,
    reply: str,
    expected: type[SendError],
) -> None:
    server = fault_server(smtp_server_factory, data=reply)
    transport = transport_for(server)
    error = send_error(transport, make_message())
    assert type(error) is expected
    assert error.status_code == int(reply[:3])
    assert reply[4:] in str(error)
    assert not error.ambiguous
    assert server.messages == []
    # the connection stays usable after a refused DATA
    server.faults.data = None
    transport.send(make_message())
    assert len(server.messages) == 1
    assert server.recorder.connections == 1


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("550 5.7.1 Sender not allowed", ProviderError),
        ("451 4.7.1 Greylisted, please try again later", RateLimited),
        ("452 4.3.1 Insufficient system storage", TransientError),
        ("552 5.3.4 Message too big for system", MessageRejected),
        ("530 5.7.0 Authentication required", AuthenticationError),
    ],
)
def test_replies_to_mail_from(
    smtp_server_factory: Factory,
    transport_for: TransportFor,
    make_message: MakeMessage,
    reply: str,
    expected: type[SendError],
) -> None:
    server = fault_server(smtp_server_factory, mail=reply)
    error = send_error(transport_for(server), make_message())
    assert type(error) is expected
    assert error.status_code == int(reply[:3])
    assert "RCPT" not in server.recorder.commands
    assert server.messages == []


def test_one_of_two_recipients_refused_is_a_success(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = fault_server(
        smtp_server_factory, rcpt={"carl@example.com": "550 5.1.1 No such user here"}
    )
    result = transport_for(server).send(make_message(to=TWO))
    assert result.rejected == {"carl@example.com": "550 5.1.1 No such user here"}
    assert len(server.messages) == 1
    assert server.messages[0].rcpt_tos == ["bob@example.com"]


def test_every_recipient_refused_is_message_rejected(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = fault_server(
        smtp_server_factory,
        rcpt={
            "bob@example.com": "550 5.1.1 No such user here",
            "carl@example.com": "553 5.1.3 Bad destination mailbox address",
        },
    )
    transport = transport_for(server)
    error = send_error(transport, make_message(to=TWO))
    assert isinstance(error, MessageRejected)
    assert error.rejected == {
        "bob@example.com": "550 5.1.1 No such user here",
        "carl@example.com": "553 5.1.3 Bad destination mailbox address",
    }
    assert error.status_code == 550
    assert "DATA" not in server.recorder.commands
    assert server.recorder.commands[-1] == "RSET"
    # the connection is reset and reused
    server.faults.rcpt.clear()
    transport.send(make_message(to=TWO))
    assert server.recorder.connections == 1


def test_every_recipient_deferred_is_transient(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = fault_server(
        smtp_server_factory, rcpt={"bob@example.com": "450 4.2.1 Mailbox busy, try later"}
    )
    error = send_error(transport_for(server), make_message())
    assert isinstance(error, TransientError)
    assert error.status_code == 450


def test_connection_dropped_after_the_body_is_ambiguous(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = fault_server(smtp_server_factory, drop_after_data=True)
    transport = transport_for(server)
    error = send_error(transport, make_message())
    assert type(error) is TransientError
    assert error.ambiguous
    assert "may have been delivered" in str(error)
    assert server.recorder.dropped_after_data == 1
    # no transparent retry after the body went out (no duplicates)
    assert server.recorder.connections == 1


def test_ambiguous_drop_is_recorded_on_the_attempt(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = fault_server(smtp_server_factory, drop_after_data=True)
    mailer = Mailer(transport_for(server), retry=RetryPolicy(attempts=2, backoff=0))
    with pytest.raises(TransientError) as caught:
        mailer.send(make_message())
    mailer.close()
    assert caught.value.ambiguous
    assert server.recorder.dropped_after_data == 2  # at-least-once: retried


def test_connection_refused_is_transient_not_ambiguous(make_message: MakeMessage) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = SMTPTransport("127.0.0.1", port, security="none", timeout=2)
    error = send_error(transport, make_message())
    assert type(error) is TransientError
    assert not error.ambiguous
    assert "refused" in str(error)
    assert isinstance(error.__cause__, ConnectionRefusedError)


def test_smtputf8_needed_but_not_offered(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(smtputf8=False)
    error = send_error(transport_for(server), make_message(to="jörg@example.com"))
    assert isinstance(error, MessageRejected)
    assert "SMTPUTF8" in str(error)
    assert "MAIL" not in server.recorder.commands
    assert server.messages == []


def test_smtputf8_used_when_needed_and_offered(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(smtputf8=True)
    transport_for(server).send(make_message(to="Jörg <jörg@münchen.example>", subject="Grüße"))
    (received,) = server.messages
    assert "SMTPUTF8" in received.mail_options
    assert received.rcpt_tos == ["jörg@münchen.example"]
    assert "To: Jörg <jörg@münchen.example>".encode() in received.data
    assert "Subject: Grüße".encode() in received.data


def test_ascii_messages_do_not_ask_for_smtputf8(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport_for(smtp_plain).send(make_message(subject="Grüße", to="bob@münchen.example"))
    (received,) = smtp_plain.messages
    assert "SMTPUTF8" not in received.mail_options
    assert received.rcpt_tos == ["bob@xn--mnchen-3ya.example"]
    assert received.data.isascii()


def test_421_closing_drops_the_connection_for_the_next_send(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = fault_server(smtp_server_factory, data="421 4.3.0 Shutting down, closing")
    transport = transport_for(server)
    error = send_error(transport, make_message())
    assert type(error) is TransientError and error.status_code == 421
    server.faults.data = None
    transport.send(make_message())
    assert len(server.messages) == 1
    assert server.recorder.connections == 2
