"""The SMTP connection pool: threads, recycling, idle replacement, drops, asyncio, limits."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from servers.smtp import Faults, SMTPServer

from unisend import AsyncMailer, ConfigurationError, Mailer, Message, TransientError
from unisend.transports.smtp import SMTPTransport
from unisend.transports.smtp._pool import Pooled as _Pooled

Factory = Callable[..., SMTPServer]
TransportFor = Callable[..., SMTPTransport]
MakeMessage = Callable[..., Message]


def _eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def _in_threads(threads: int, work: Callable[[int], object]) -> list[BaseException]:
    """Run ``work(n)`` in ``threads`` threads released together; return what they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def run(n: int) -> None:
        start.wait()
        try:
            work(n)
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(30)
    return errors


def _subjects(server: SMTPServer) -> Counter[str]:
    return Counter(str(m.parsed()["subject"]) for m in server.messages)


def _mails_per_connection(server: SMTPServer) -> list[int]:
    """MAIL commands on each connection of a plain server (each one starts with EHLO)."""
    counts: list[int] = []
    for verb in server.recorder.commands:
        if verb == "EHLO":
            counts.append(0)
        elif verb == "MAIL":
            counts[-1] += 1
    return counts


# -- threads ------------------------------------------------------------------------


def test_eight_threads_share_four_connections_and_every_message_goes_once(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport = transport_for(smtp_plain, pool_size=4, max_messages_per_connection=1000)

    def work(n: int) -> None:
        for i in range(25):
            transport.send(make_message(subject=f"t{n}-{i}"))

    assert _in_threads(8, work) == []
    assert _subjects(smtp_plain) == Counter(f"t{n}-{i}" for n in range(8) for i in range(25))
    recorder = smtp_plain.recorder
    assert recorder.max_concurrent <= 4
    assert 2 <= recorder.connections <= 4  # the threads did overlap, within the limit
    assert recorder.commands.count("MAIL") == 200
    transport.close()
    assert recorder.commands.count("QUIT") == recorder.connections
    _eventually(lambda: smtp_plain.open_connections == 0)


def test_a_busy_pool_makes_a_sender_wait_then_fail_with_a_transient_error(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(faults=Faults(data_delay=0.3))
    transport = transport_for(server, pool_size=1, pool_timeout=0.05)
    holder_errors: list[BaseException] = []

    def hold() -> None:
        try:
            transport.send(make_message(subject="holder"))
        except BaseException as exc:  # reported below
            holder_errors.append(exc)

    holder = threading.Thread(target=hold)
    holder.start()
    _eventually(lambda: "DATA" in server.recorder.commands)
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        transport.send(make_message(subject="waiter"))
    waited = time.monotonic() - started
    holder.join(5)
    assert holder_errors == []
    assert caught.value.retryable and not caught.value.ambiguous
    assert "pool_timeout" in str(caught.value) and "nothing was sent" in str(caught.value)
    assert waited < 0.25  # gave up after pool_timeout, not after the holder's 0.3 s
    assert _subjects(server) == Counter(["holder"])
    assert server.recorder.connections == 1


def test_a_waiting_sender_gets_the_connection_when_it_comes_back(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(faults=Faults(data_delay=0.05))
    transport = transport_for(server, pool_size=2, pool_timeout=5.0)

    def work(n: int) -> None:
        for i in range(3):
            transport.send(make_message(subject=f"w{n}-{i}"))

    assert _in_threads(6, work) == []
    assert _subjects(server) == Counter(f"w{n}-{i}" for n in range(6) for i in range(3))
    assert server.recorder.max_concurrent <= 2
    assert server.recorder.connections == 2


@pytest.mark.parametrize("flavour", ["smtp_starttls", "smtp_implicit_tls"])
def test_tls_connections_are_pooled_and_authenticate_once_each(
    flavour: str,
    request: pytest.FixtureRequest,
    transport_for: TransportFor,
    make_message: MakeMessage,
) -> None:
    server: SMTPServer = request.getfixturevalue(flavour)
    transport = transport_for(server, pool_size=2)

    def work(n: int) -> None:
        for i in range(5):
            transport.send(make_message(subject=f"s{n}-{i}"))

    assert _in_threads(4, work) == []
    assert _subjects(server) == Counter(f"s{n}-{i}" for n in range(4) for i in range(5))
    recorder = server.recorder
    # Idle TLS connections were reused, not mistaken for dropped ones and reopened.
    assert recorder.connections <= 2
    assert recorder.commands.count("AUTH") == recorder.connections
    assert [ok for _, _, ok in recorder.auth] == [True] * recorder.connections


# -- recycling and idle connections ---------------------------------------------------


def test_a_connection_is_recycled_with_quit_after_max_messages(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport = transport_for(smtp_plain, max_messages_per_connection=3)
    for i in range(7):
        transport.send(make_message(subject=f"r{i}"))
    recorder = smtp_plain.recorder
    assert recorder.connections == 3
    assert recorder.commands.count("QUIT") == 2  # the two worn-out connections
    assert _mails_per_connection(smtp_plain) == [3, 3, 1]
    transport.close()
    assert recorder.commands.count("QUIT") == 3
    assert len(smtp_plain.messages) == 7


def test_a_connection_idle_longer_than_idle_timeout_is_replaced_before_use(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport = transport_for(smtp_plain, idle_timeout=60.0)
    now = [1000.0]
    transport._pool.clock = lambda: now[0]
    transport.send(make_message(subject="first"))
    now[0] += 59.0
    transport.send(make_message(subject="within"))
    assert smtp_plain.recorder.connections == 1
    now[0] += 61.0
    transport.send(make_message(subject="after"))
    recorder = smtp_plain.recorder
    assert recorder.connections == 2
    # The stale connection was ended politely before the new one said EHLO.
    assert recorder.commands.count("QUIT") == 1
    assert recorder.commands.index("QUIT") < len(recorder.commands) - recorder.commands[::-1].index(
        "EHLO"
    )
    assert recorder.commands.count("MAIL") == 3  # no failed try on the stale connection
    assert [m.parsed()["subject"] for m in smtp_plain.messages] == ["first", "within", "after"]


def test_a_short_real_idle_timeout_replaces_the_connection(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport = transport_for(smtp_plain, idle_timeout=0.05)
    transport.send(make_message())
    time.sleep(0.08)
    transport.send(make_message())
    assert smtp_plain.recorder.connections == 2
    assert smtp_plain.recorder.commands.count("QUIT") == 1


# -- broken connections -----------------------------------------------------------------


def test_server_dropping_every_connection_between_sends_costs_no_message_and_no_duplicate(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport = transport_for(smtp_plain, pool_size=4)

    def first(n: int) -> None:
        for i in range(3):
            transport.send(make_message(subject=f"a{n}-{i}"))

    assert _in_threads(8, first) == []
    before = smtp_plain.recorder.connections
    smtp_plain.drop_connections()
    _eventually(lambda: smtp_plain.open_connections == 0)

    def second(n: int) -> None:
        for i in range(3):
            transport.send(make_message(subject=f"b{n}-{i}"))

    assert _in_threads(8, second) == []
    expected = [f"{p}{n}-{i}" for p in "ab" for n in range(8) for i in range(3)]
    assert _subjects(smtp_plain) == Counter(expected)
    assert smtp_plain.recorder.max_concurrent <= 4
    assert smtp_plain.recorder.connections <= before + 4


def test_dead_connections_found_only_at_mail_from_are_retried_on_fresh_ones(
    smtp_plain: SMTPServer,
    transport_for: TransportFor,
    make_message: MakeMessage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Blind the idle check, so every dead connection is discovered by MAIL FROM failing:
    # the per-connection retry must then send each message exactly once.
    monkeypatch.setattr(_Pooled, "looks_dropped", lambda self: False)
    transport = transport_for(smtp_plain, pool_size=3)

    def warm(n: int) -> None:
        transport.send(make_message(subject=f"w{n}"))

    assert _in_threads(3, warm) == []
    opened = smtp_plain.recorder.connections
    smtp_plain.drop_connections()
    _eventually(lambda: smtp_plain.open_connections == 0)
    for i in range(4):
        transport.send(make_message(subject=f"s{i}"))
    expected = [f"w{n}" for n in range(3)] + [f"s{i}" for i in range(4)]
    assert _subjects(smtp_plain) == Counter(expected)
    # One fresh connection replaced the dead one each send found; then it was reused.
    assert smtp_plain.recorder.connections == opened + 1


def test_a_failure_after_data_is_ambiguous_and_not_retried(
    smtp_plain: SMTPServer, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    transport = transport_for(smtp_plain, pool_size=2)
    transport.send(make_message(subject="before"))
    smtp_plain.faults.drop_after_data = True
    with pytest.raises(TransientError) as caught:
        transport.send(make_message(subject="lost?"))
    assert caught.value.ambiguous
    assert smtp_plain.recorder.dropped_after_data == 1
    assert smtp_plain.recorder.commands.count("MAIL") == 2  # no second try
    assert smtp_plain.recorder.connections == 1
    smtp_plain.faults.drop_after_data = False
    transport.send(make_message(subject="after"))
    assert _subjects(smtp_plain) == Counter(["before", "after"])
    assert smtp_plain.recorder.connections == 2  # the broken one was replaced


# -- close ---------------------------------------------------------------------------


def test_close_quits_idle_connections_now_and_busy_ones_when_they_return(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(faults=Faults(data_delay=0.05))
    transport = transport_for(server, pool_size=2)
    assert _in_threads(2, lambda n: transport.send(make_message(subject=f"o{n}"))) == []
    assert server.recorder.connections == 2
    server.faults.data_delay = 0.3
    busy = threading.Thread(target=transport.send, args=(make_message(subject="busy"),))
    busy.start()
    _eventually(lambda: server.recorder.commands.count("DATA") == 3)
    transport.close()
    assert server.recorder.commands.count("QUIT") == 1  # the idle one, at once
    busy.join(5)
    assert server.recorder.commands.count("QUIT") == 2  # the busy one, when it came back
    assert _subjects(server) == Counter(["o0", "o1", "busy"])
    _eventually(lambda: server.open_connections == 0)
    assert transport._pool.open_connections == 0


# -- asyncio -------------------------------------------------------------------------


async def test_fifty_gathered_async_sends_over_a_pool_of_eight_keep_the_loop_free(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    # A send that blocked the loop would stall it for a whole DATA delay (250 ms); the bound
    # sits below that and well above a busy 2-core machine's scheduling noise (~100 ms).
    server = smtp_server_factory(faults=Faults(data_delay=0.25))
    transport = transport_for(server, pool_size=8)
    messages = [make_message(subject=f"g{i}") for i in range(50)]
    ticks = 0
    max_gap = 0.0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks, max_gap
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            ticks, max_gap = ticks + 1, max(max_gap, now - last)
            last = now

    async with AsyncMailer(transport) as mailer:
        # The first send loads what async sending needs once (thread pool, modules): not
        # the steady state this test measures.
        await mailer.send(make_message(subject="warm-up"))
        # The test runner's own heap (every test before this one) is frozen out of the
        # collector meanwhile, as test_async_parity's LoopProbe does: late in the suite a
        # full collection of it took 200-370 ms here and counted as a stall of the loop.
        gc.collect()
        gc.freeze()
        try:
            probe = asyncio.create_task(ticker())
            started = time.perf_counter()
            results = await asyncio.gather(*(mailer.send(m) for m in messages))
            elapsed = time.perf_counter() - started
            stop.set()
            await probe
        finally:
            gc.unfreeze()
    assert len({r.message_id for r in results}) == 50
    assert _subjects(server) == Counter([f"g{i}" for i in range(50)] + ["warm-up"])
    recorder = server.recorder
    assert recorder.max_concurrent <= 8
    assert recorder.connections >= 4  # the sends overlapped on several connections
    assert elapsed < 6.0  # 7 rounds of 250 ms, not 50 one after the other (12.5 s)
    assert ticks >= 50 and max_gap < 0.2, f"loop stalled {max_gap * 1000:.0f} ms"
    assert recorder.commands.count("QUIT") == recorder.connections  # aclose on exit


async def test_asend_runs_on_at_most_pool_size_worker_threads(
    smtp_server_factory: Factory, transport_for: TransportFor, make_message: MakeMessage
) -> None:
    server = smtp_server_factory(faults=Faults(data_delay=0.05))
    transport = transport_for(server, pool_size=3, pool_timeout=0.01)
    # More sends than connections queue for a worker instead of timing out in the pool.
    results = await asyncio.gather(
        *(transport.asend(make_message(subject=f"q{i}")) for i in range(12))
    )
    await transport.aclose()
    assert len(results) == 12
    assert server.recorder.max_concurrent <= 3
    assert server.recorder.commands.count("QUIT") == server.recorder.connections


# -- configuration --------------------------------------------------------------------


def test_pool_options_come_from_the_url(smtp_plain: SMTPServer) -> None:
    url = (
        f"smtp://{smtp_plain.host}:{smtp_plain.port}?security=none&pool_size=8"
        "&max_messages_per_connection=50&idle_timeout=5&pool_timeout=1.5"
    )
    with Mailer.from_url(url) as mailer:
        transport = mailer.transport
        assert isinstance(transport, SMTPTransport)
        assert transport.pool_size == 8
        assert transport.max_messages_per_connection == 50
        assert transport.idle_timeout == 5.0
        assert transport.pool_timeout == 1.5


def test_the_default_pool_is_one_connection() -> None:
    transport = SMTPTransport("smtp.example.com")
    assert (transport.pool_size, transport.max_messages_per_connection) == (1, 100)
    assert (transport.idle_timeout, transport.pool_timeout) == (60.0, 30.0)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("pool_size=0", "pool_size"),
        ("pool_size=many", "pool_size"),
        ("max_messages_per_connection=0", "max_messages_per_connection"),
        ("idle_timeout=-1", "idle_timeout"),
        ("pool_timeout=0", "pool_timeout"),
    ],
)
def test_bad_pool_options_are_configuration_errors(query: str, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Mailer.from_url(f"smtp://mail.example.com?security=none&{query}")


@pytest.mark.parametrize(
    "options",
    [{"pool_size": True}, {"pool_size": 2.5}, {"max_messages_per_connection": -3}],
)
def test_bad_pool_keywords_are_configuration_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="whole number"):
        SMTPTransport("mail.example.com", **options)  # type: ignore[arg-type]
