"""The suite's guard against the network (``network_guard``, installed around every test
by ``tests/conftest.py``): loopback passes, anything else is refused before a packet
leaves, and the test that tried fails."""

from __future__ import annotations

import socket

import pytest
from network_guard import is_loopback, refuse_the_network


def test_loopback_is_allowed() -> None:
    # the guard of tests/conftest.py is active here
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname()[:2], timeout=5.0)
        accepted, _ = server.accept()
        accepted.close()
        client.close()


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        (("127.0.0.1", 25), True),
        (("127.8.9.10", 25), True),
        (("::1", 25, 0, 0), True),
        (("localhost", 25), True),
        (("192.0.2.1", 25), False),
        (("2001:db8::1", 443, 0, 0), False),
        (("smtp.example.com", 25), False),
    ],
)
def test_which_addresses_are_loopback(address: tuple[object, ...], allowed: bool) -> None:
    assert is_loopback(address) is allowed


def test_other_addresses_are_refused_and_recorded() -> None:
    before = socket.socket.connect
    with pytest.MonkeyPatch.context() as monkeypatch:
        attempts = refuse_the_network(monkeypatch)
        for address in [("192.0.2.1", 25), ("smtp.example.com", 25)]:
            with socket.socket() as sock, pytest.raises(OSError, match="loopback only"):
                sock.connect(address)
            with socket.socket() as sock, pytest.raises(OSError, match="loopback only"):
                sock.connect_ex(address)
    assert attempts == ["('192.0.2.1', 25)"] * 2 + ["('smtp.example.com', 25)"] * 2
    assert socket.socket.connect is before  # undone with the monkeypatch
