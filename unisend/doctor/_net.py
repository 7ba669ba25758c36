"""The time budget of a run, and TCP connections that tell refused from timed out."""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class Deadline:
    """The end of the run on the monotonic clock; every network step waits at most
    :meth:`left` seconds."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds until the deadline (never negative)."""
        return max(0.0, self.end - time.monotonic())

    async def run(self, awaitable: Awaitable[T], share: float = 1.0) -> T:
        """Await ``awaitable`` for at most ``share`` of the time left; TimeoutError after."""
        return await asyncio.wait_for(awaitable, self.left() * share)


@dataclass
class Connected:
    """An open TCP connection: the address it reached and the protocol on it."""

    address: str
    transport: asyncio.Transport
    protocol: asyncio.Protocol


@dataclass
class ConnectFailure:
    """Why no connection was made: ``"refused"``, ``"timeout"`` or ``"error"``."""

    kind: str
    address: str
    text: str


async def connect(
    addresses: list[str],
    port: int,
    protocol_factory: Callable[[], asyncio.Protocol],
    deadline: Deadline,
) -> Connected | ConnectFailure:
    """Connect to the first of ``addresses`` that answers; the failure of the last one
    tried otherwise (a timeout uses up the budget, so no later address is tried)."""
    loop = asyncio.get_running_loop()
    failure = ConnectFailure("error", "", "no address to connect to")
    for address in addresses:
        try:
            transport, protocol = await deadline.run(
                loop.create_connection(protocol_factory, address, port)
            )
        except (TimeoutError, asyncio.TimeoutError):
            return ConnectFailure("timeout", address, f"no answer within {deadline.seconds:g}s")
        except ConnectionRefusedError:
            failure = ConnectFailure("refused", address, "connection refused")
        except OSError as exc:
            if exc.errno == errno.ETIMEDOUT:
                return ConnectFailure("timeout", address, "connection timed out")
            failure = ConnectFailure("error", address, exc.strerror or str(exc))
        else:
            assert isinstance(transport, asyncio.Transport)
            return Connected(address, transport, protocol)
    return failure


def host_port(address: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


__all__ = ["ConnectFailure", "Connected", "Deadline", "connect", "host_port"]
