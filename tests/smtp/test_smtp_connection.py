"""Connection handling: reuse, QUIT, transparent reconnects, threads, asyncio."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from servers.smtp import Faults, SMTPServer

from unisend import AsyncMailer, Mailer, Message, TransientError
from unisend.transports.smtp import SMTPTransport

Factory = Callable[..., SMTPServer]
TransportFor = Callable[..., SMTPTransport]
MakeMessage = Callable[..., Message]


def test_twenty_sends_share_one_connection_and_quit_on_exit(
    smtp_starttls: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    with Mailer(transport_for(smtp_starttls)) as mailer:
        ids = {mailer.send(make_message(subject=f"n{i}")).message_id for i in range(20)}
        assert "QUIT" not in smtp_starttls.recorder.commands
    assert len(ids) == 20
    assert len(smtp_starttls.messages) == 20
    assert [m.parsed()["subject"] for m in smtp_starttls.messages] == [f"n{i}" for i in range(20)]
    recorder = smtp_starttls.recorder
    assert recorder.connections == 1
    assert recorder.commands.count("AUTH") == 1
    assert recorder.commands.count("MAIL") == 20
    assert recorder.commands[-1] == "QUIT"


def test_close_is_idempotent_and_the_next_send_reconnects(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport = transport_for(smtp_plain)
    transport.send(make_message())
    transport.close()
    transport.close()
    transport.send(make_message())
    assert smtp_plain.recorder.connections == 2
    assert smtp_plain.recorder.commands.count("QUIT") == 1


def test_server_dropping_the_connection_is_reopened_transparently(
    smtp_starttls: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport = transport_for(smtp_starttls)
    transport.send(make_message(subject="first"))
    smtp_starttls.drop_connections()
    result = transport.send(make_message(subject="second"))
    assert result.message_id
    assert [m.parsed()["subject"] for m in smtp_starttls.messages] == ["first", "second"]
    assert smtp_starttls.recorder.connections == 2


def test_server_idle_timeout_is_survived(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(timeout=0.2)  # aiosmtpd closes idle sessions
    transport = transport_for(server)
    transport.send(make_message())
    deadline = time.monotonic() + 5
    while server.open_connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.open_connections == 0  # the server hung up on the idle client
    transport.send(make_message())
    assert len(server.messages) == 2
    assert server.recorder.connections == 2


def test_a_fresh_connection_is_not_retried(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(faults=Faults(greeting="421 4.3.2 going down"))
    with pytest.raises(TransientError):
        transport_for(server).send(make_message())
    assert server.recorder.connections == 1


def test_threads_share_the_connection_safely(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport = transport_for(smtp_plain)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                transport.send(make_message(subject=f"t{n}-{i}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    subjects = sorted(m.parsed()["subject"] for m in smtp_plain.messages)
    assert subjects == sorted(f"t{n}-{i}" for n in range(4) for i in range(5))
    assert smtp_plain.recorder.connections == 1


async def test_asend_does_not_block_the_event_loop(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(faults=Faults(data_delay=0.2))
    transport = transport_for(server)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    result = await transport.asend(make_message())
    stop.set()
    await task
    await transport.aclose()
    assert result.message_id
    assert len(server.messages) == 1
    assert ticks >= 5  # the loop kept running while the server held its reply (0.2 s)


async def test_async_mailer_reuses_one_connection(
    smtp_starttls: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    async with AsyncMailer(transport_for(smtp_starttls)) as mailer:
        results = await mailer.send_many([make_message(subject=f"a{i}") for i in range(5)])
    assert all(not isinstance(r, Exception) for r in results)
    assert len(smtp_starttls.messages) == 5
    assert smtp_starttls.recorder.connections == 1
    assert smtp_starttls.recorder.commands[-1] == "QUIT"


def test_421_on_a_reused_connection_is_retried_once_on_a_fresh_one(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport = transport_for(smtp_plain)
    transport.send(make_message())
    smtp_plain.faults.mail = "421 4.4.2 Idle too long, closing connection"
    with pytest.raises(TransientError) as caught:
        transport.send(make_message())
    assert caught.value.status_code == 421
    assert smtp_plain.recorder.connections == 2  # one reconnect, then the error
    smtp_plain.faults.mail = None
    transport.send(make_message())
    assert len(smtp_plain.messages) == 2
