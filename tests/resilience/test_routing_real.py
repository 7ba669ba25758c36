"""Routing against real servers on loopback: the project's HTTP test server (status
faults, 429 + Retry-After, slow responses -> timeout, a closed port), a socket that resets
the connection, and the aiosmtpd fault server; SMTP and HTTP routes mixed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from servers.http import HttpStub, start_stub
from servers.smtp import Faults, SMTPServer

from unisend import (
    AllRoutesFailed,
    AuthenticationError,
    Failover,
    Message,
    MessageRejected,
    RateLimited,
    RetryPolicy,
    RoundRobin,
    TransientError,
)
from unisend.transports import (
    MailjetTransport,
    PostmarkTransport,
    SendGridTransport,
    SMTPTransport,
)
from unisend.transports.base import Transport

from .conftest import Deliver, FakeClock

Policy = Callable[..., RetryPolicy]


T = TypeVar("T", bound=Transport)


@pytest.fixture
def closing() -> Iterator[Callable[[T], T]]:
    """``closing(router)`` closes it (and its routes' pooled clients) after the test."""
    opened: list[Transport] = []

    def keep(transport: T) -> T:
        opened.append(transport)
        return transport

    yield keep
    for transport in opened:
        transport.close()


def sendgrid(base_url: str, **kw: object) -> SendGridTransport:
    return SendGridTransport(api_key="SG.test-key", base_url=base_url, **kw)  # type: ignore[arg-type]


def postmark(base_url: str) -> PostmarkTransport:
    return PostmarkTransport(server_token="pm-test-token", base_url=base_url)


def statuses(attempts: object) -> list[int | None]:
    return [a.error.status_code if a.error else None for a in attempts]  # type: ignore[attr-defined]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class ResettingServer:
    """Accepts, reads the request head, then resets the connection (SO_LINGER 0)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.02)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests += 1
                conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


# -- HTTP routes on the stub -----------------------------------------------------------------


def test_5xx_is_retried_then_fails_over_to_the_http_backup(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    closing: Any,
) -> None:
    router = closing(Failover([sendgrid(stub.fault_url(503)), postmark(stub.url)], _clock=clock))
    result = deliver(router, message, policy_for(attempts=3, backoff=1, jitter=False))
    assert result.transport == "postmark" and result.message_id
    assert statuses(result.attempts) == [503, 503, 503, None]
    assert clock.sleeps == [1.0, 2.0]
    stats = stub.stats()
    assert stats["faults"] == {"503": 3} and stats["by_route"] == {"postmark": 1}
    assert [h.state for h in router.health()] == ["cooling", "healthy"]


def test_429_retry_after_is_honoured(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    closing: Any,
) -> None:
    router = closing(Failover([sendgrid(stub.fault_url(429)), postmark(stub.url)], _clock=clock))
    result = deliver(router, message, policy_for(attempts=3, backoff=30))
    first = result.attempts[0].error
    assert isinstance(first, RateLimited) and first.retry_after == 1.0
    assert clock.sleeps == [1.0, 1.0]  # the stub's Retry-After, not the 30 s backoff
    assert stub.stats()["faults"] == {"429": 3}


def test_429_retry_after_over_the_maximum_fails_over_without_waiting(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    closing: Any,
) -> None:
    router = closing(Failover([sendgrid(stub.fault_url(429)), postmark(stub.url)], _clock=clock))
    result = deliver(router, message, policy_for(attempts=3, max_retry_after=0.5))
    assert statuses(result.attempts) == [429, None] and clock.sleeps == []
    assert stub.stats()["faults"] == {"429": 1}


def test_401_fails_over_at_once(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    closing: Any,
) -> None:
    router = closing(Failover([sendgrid(stub.fault_url(401)), postmark(stub.url)], _clock=clock))
    result = deliver(router, message, policy_for(attempts=3))
    assert isinstance(result.attempts[0].error, AuthenticationError)
    assert len(result.attempts) == 2 and clock.sleeps == []


def test_422_is_raised_and_nothing_else_is_tried(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    closing: Any,
) -> None:
    router = closing(Failover([sendgrid(stub.fault_url(422)), postmark(stub.url)], _clock=clock))
    with pytest.raises(MessageRejected) as caught:
        deliver(router, message, policy_for(attempts=3))
    assert caught.value.status_code == 422 and caught.value.transport == "sendgrid"
    assert stub.stats()["by_route"] == {} and stub.stats()["requests"] == 1
    assert [h.state for h in router.health()] == ["healthy", "healthy"]


def test_closed_port_is_transient_not_ambiguous(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    closing: Any,
) -> None:
    dead = sendgrid(f"http://127.0.0.1:{closed_port()}")
    router = closing(Failover([dead, postmark(stub.url)], _clock=clock))
    result = deliver(router, message, policy_for(attempts=2))
    assert [type(a.error).__name__ for a in result.attempts] == [
        "TransientError",
        "TransientError",
        "NoneType",
    ]
    assert not any(a.ambiguous for a in result.attempts)
    assert stub.stats()["by_route"] == {"postmark": 1}


def test_connection_reset_after_the_request_is_ambiguous(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    closing: Any,
) -> None:
    server = ResettingServer()
    try:
        router = closing(
            Failover(
                [sendgrid(f"http://127.0.0.1:{server.port}"), postmark(stub.url)], _clock=clock
            )
        )
        result = deliver(router, message, policy_for(attempts=2))
    finally:
        server.close()
    assert server.requests == 2
    first = result.attempts[0].error
    assert isinstance(first, TransientError) and first.ambiguous
    assert [a.ambiguous for a in result.attempts] == [True, True, False]
    assert result.transport == "postmark"


def test_slow_response_times_out_ambiguously_and_may_duplicate(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    closing: Any,
) -> None:
    with start_stub("--latency-ms", "300") as slow:
        router = closing(
            Failover([sendgrid(slow.url, timeout=0.05), postmark(stub.url)], _clock=clock)
        )
        result = deliver(router, message, policy_for(attempts=1))
        slow_stats = slow.stats()
    assert result.transport == "postmark"
    assert result.attempts[0].ambiguous and "may have accepted" in str(result.attempts[0].error)
    # the slow provider did take it: a duplicate, and the trail says so
    assert slow_stats["by_route"] == {"sendgrid": 1}
    assert stub.stats()["by_route"] == {"postmark": 1}


def test_every_http_route_failing_raises_all_routes_failed(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    closing: Any,
) -> None:
    router = closing(
        Failover(
            [sendgrid(stub.fault_url(500)), sendgrid(stub.fault_url(403), name="sg2")],
            _clock=clock,
        )
    )
    with pytest.raises(AllRoutesFailed) as caught:
        deliver(router, message, policy_for(attempts=2, backoff=0))
    assert [(e.transport, e.status_code) for e in caught.value.errors] == [
        ("sendgrid", 500),
        ("sendgrid", 500),
        ("sg2", 403),
    ]


def test_round_robin_over_three_providers(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    closing: Any,
) -> None:
    mailjet = MailjetTransport(api_key="mj-key", secret_key="mj-secret", base_url=stub.url)
    router = closing(
        RoundRobin(
            [sendgrid(stub.url), postmark(stub.url), mailjet], weights=[3, 2, 1], _clock=clock
        )
    )
    sent = [deliver(router, message, policy_for()).transport for _ in range(12)]
    assert sent == ["sendgrid", "postmark", "sendgrid", "mailjet", "postmark", "sendgrid"] * 2
    assert stub.stats()["by_route"] == {"sendgrid": 6, "postmark": 4, "mailjet": 2}


# -- SMTP and HTTP mixed -----------------------------------------------------------------------


def smtp(server: SMTPServer, **kw: object) -> SMTPTransport:
    return SMTPTransport(server.host, server.port, security="none", timeout=5, **kw)  # type: ignore[arg-type]


def test_smtp_primary_with_http_backup(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    smtp_server_factory: Callable[..., SMTPServer],
    closing: Any,
) -> None:
    busy = smtp_server_factory(faults=Faults(greeting="421 4.3.2 busy, try later"))
    router = closing(Failover([smtp(busy), sendgrid(stub.url)], _clock=clock))
    result = deliver(router, message, policy_for(attempts=2, backoff=0))
    assert result.transport == "sendgrid"
    assert isinstance(result.attempts[0].error, TransientError)
    assert result.attempts[0].error.status_code == 421
    assert busy.recorder.connections == 2 and busy.messages == []
    assert stub.stats()["by_route"] == {"sendgrid": 1}


def test_healthy_smtp_primary_leaves_the_backup_alone(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    smtp_server_factory: Callable[..., SMTPServer],
    closing: Any,
) -> None:
    server = smtp_server_factory()
    router = closing(Failover([smtp(server), sendgrid(stub.url)], _clock=clock))
    result = deliver(router, message, policy_for())
    assert result.transport == "smtp" and len(server.messages) == 1
    assert result.message_id and result.message_id.startswith("<")
    assert stub.stats()["requests"] == 0


def test_smtp_refusing_every_recipient_is_raised_not_failed_over(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    smtp_server_factory: Callable[..., SMTPServer],
    closing: Any,
) -> None:
    server = smtp_server_factory(faults=Faults(rcpt={"bob@example.com": "550 5.1.1 no such user"}))
    router = closing(Failover([smtp(server), sendgrid(stub.url)], _clock=clock))
    with pytest.raises(MessageRejected) as caught:
        deliver(router, message, policy_for())
    assert "bob@example.com" in caught.value.rejected
    assert stub.stats()["requests"] == 0 and router.health()[0].state == "healthy"


def test_http_primary_with_smtp_backup(
    deliver: Deliver,
    message: Message,
    stub: HttpStub,
    clock: FakeClock,
    policy_for: Policy,
    smtp_server_factory: Callable[..., SMTPServer],
    closing: Any,
) -> None:
    server = smtp_server_factory()
    router = closing(Failover([sendgrid(stub.fault_url(502)), smtp(server)], _clock=clock))
    result = deliver(router, message, policy_for(attempts=2, backoff=0))
    assert result.transport == "smtp" and len(server.messages) == 1
    assert statuses(result.attempts) == [502, 502, None]
