"""No network beyond loopback: what ``tests/conftest.py`` installs around every test."""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

import pytest


def is_loopback(address: Any) -> bool:
    """Whether a ``connect`` address stays on this machine (a host name does not: it would
    be looked up first; ``localhost`` excepted)."""
    host = address[0] if isinstance(address, tuple) else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def refuse_the_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every IP ``connect`` to a non-loopback address raise ``OSError(ENETUNREACH)``
    until ``monkeypatch`` is undone; return the list the refused addresses go to."""
    attempts: list[str] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
            attempts.append(repr(address))
            raise OSError(errno.ENETUNREACH, f"tests may not reach {address!r}: loopback only")

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    return attempts
