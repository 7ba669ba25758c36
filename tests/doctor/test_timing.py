"""The doctor is bounded: a whole run against local servers is quick, and a run against
servers that never answer ends about ``timeout`` seconds later."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import DoctorSMTPServer, smtp_url
from doctor_http import KeyServer

from unisend import diagnose

MARGIN = 0.75


@pytest.fixture
def silent_dns() -> Iterator[str]:
    """A UDP "name server" that never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_whole_run_against_local_servers_is_well_under_5s(
    smtp: Callable[..., DoctorSMTPServer],
    ca_file: str,
    key_server: KeyServer,
    nameserver: str,
) -> None:
    starttls, implicit = smtp(), smtp(tls="implicit")
    url = (
        f"failover({smtp_url(starttls, ca_file, host='mail.good.test')} "
        f"{smtp_url(implicit, ca_file, scheme='smtps')} "
        f"sendgrid://SG.good@default?base_url={key_server.base_url})"
    )
    started = time.monotonic()
    diagnosis = diagnose(url, domain="good.test", nameservers=[nameserver], timeout=10)
    elapsed = time.monotonic() - started
    assert diagnosis.ok, str(diagnosis)
    assert len(diagnosis.checks) == 8 + 7 + 4 + 4 + 1  # two SMTP routes, one API route, domain
    assert elapsed < 5.0, elapsed


def test_black_hole_smtp_ends_within_timeout(black_hole: int) -> None:
    started = time.monotonic()
    diagnosis = diagnose(f"smtp://u:p@127.0.0.1:{black_hole}", timeout=1.0)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + MARGIN, elapsed
    connect = diagnosis.check("connect")
    assert connect is not None and connect.details["error"] == "timeout"


def test_silent_listeners_end_within_timeout(silent_listener: int) -> None:
    url = f"failover(smtp://127.0.0.1:{silent_listener} smtps://127.0.0.1:{silent_listener})"
    started = time.monotonic()
    diagnosis = diagnose(url, timeout=1.0)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + MARGIN, elapsed
    tls = diagnosis.check("tls", route="smtp#2")
    assert tls is not None and tls.status == "fail" and "no answer in time" in tls.summary


def test_silent_name_server_ends_within_timeout(silent_dns: str) -> None:
    started = time.monotonic()
    diagnosis = diagnose(
        "smtp://mail.good.test:587", domain="good.test", nameservers=[silent_dns], timeout=1.0
    )
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + MARGIN, elapsed
    dns = diagnosis.check("dns")
    assert dns is not None and dns.status == "fail" and "timed out" in dns.summary
    assert dns.fix and "resolver" in dns.fix
    for id in ("mx", "spf", "dmarc"):
        check = diagnosis.check(id)
        assert check is not None and check.status == "warn", check
