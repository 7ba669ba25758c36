"""DNS lookups for the doctor: through dnspython's resolver (the system's, or the
``nameservers`` given), each bounded by the run's deadline.

dnspython is imported here only, when a lookup is first needed (extra ``unisend[doctor]``).
Without it, host names still resolve through the operating system (``getaddrinfo``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from .._errors import ConfigurationError
from ._net import Deadline

T = TypeVar("T")

LookupStatus = Literal["ok", "nxdomain", "nodata", "timeout", "error"]

EXTRA_HINT = "install the doctor's DNS support: pip install 'unisend[doctor]'"


@dataclass
class Lookup:
    """The answer to one query: ``records`` as text (TXT strings joined, MX as
    ``"10 host."``), or why there are none."""

    status: LookupStatus
    records: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def empty(self) -> bool:
        """No record (NXDOMAIN or no data): a "void" lookup in SPF's terms."""
        return self.status in ("nxdomain", "nodata")


def have_dnspython() -> bool:
    """Whether dnspython is installed."""
    try:
        import dns.asyncresolver  # noqa: F401
    except ImportError:
        return False
    return True


def parse_nameservers(values: list[str] | tuple[str, ...] | None) -> list[tuple[str, int]]:
    """``["IP", "IP:PORT", "[v6]:PORT"]`` -> ``[(ip, port)]``; ConfigurationError on a
    value that is not an IP address with an optional port."""
    parsed: list[tuple[str, int]] = []
    if isinstance(values, str):
        raise ConfigurationError(
            "nameservers must be a list, e.g. ['192.0.2.53', '127.0.0.1:5353']"
        )
    for value in values or ():
        text = str(value).strip()
        host, port_text = text, ""
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else rest
        elif text.count(":") == 1:
            host, _, port_text = text.partition(":")
        try:
            ipaddress.ip_address(host)
            port = int(port_text) if port_text else 53
            if not 0 < port < 65536:
                raise ValueError(port)
        except ValueError:
            raise ConfigurationError(
                f"nameserver {text!r} must be an IP address with an optional port: "
                "IP, IP:PORT or [IPv6]:PORT"
            ) from None
        parsed.append((host, port))
    return parsed


def is_ip(host: str) -> bool:
    """Whether ``host`` is an IP address literal."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _in_daemon_thread(func: Callable[[], T]) -> asyncio.Future[T]:
    """Run a blocking call in a daemon thread: a hung ``getaddrinfo`` must not keep the
    process (or ``asyncio.run``'s executor shutdown) waiting after the deadline."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = func()
        except BaseException as exc:
            error = exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    threading.Thread(target=run, name="unisend-doctor-resolve", daemon=True).start()
    return future


class Dns:
    """Queries through one resolver, bounded by ``deadline``."""

    def __init__(self, nameservers: list[tuple[str, int]], deadline: Deadline) -> None:
        self.nameservers = nameservers
        self.deadline = deadline
        self._resolver: Any = None

    @property
    def available(self) -> bool:
        """Whether record lookups (MX, TXT...) can be made (dnspython is installed)."""
        return have_dnspython()

    def _get_resolver(self) -> Any:
        if self._resolver is None:
            import dns.asyncresolver
            import dns.nameserver

            if self.nameservers:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(ip, port) for ip, port in self.nameservers
                ]
            else:
                resolver = dns.asyncresolver.Resolver(configure=True)
            resolver.cache = None
            self._resolver = resolver
        return self._resolver

    async def lookup(self, name: str, rdtype: str) -> Lookup:
        """Query ``name`` for ``rdtype`` (``"A"``, ``"AAAA"``, ``"MX"``, ``"TXT"``,
        ``"CNAME"``)."""
        if not self.available:
            return Lookup("error", error=EXTRA_HINT)
        import dns.exception
        import dns.resolver

        left = self.deadline.left()
        if left <= 0:
            return Lookup("timeout", error="the time budget ran out")
        try:
            resolver = self._get_resolver()
            resolver.timeout = left
            answer = await asyncio.wait_for(
                resolver.resolve(
                    name, rdtype, lifetime=left, search=False, raise_on_no_answer=False
                ),
                left + 0.05,
            )
        except dns.resolver.NXDOMAIN:
            return Lookup("nxdomain")
        except (dns.exception.Timeout, TimeoutError, asyncio.TimeoutError):
            return Lookup("timeout", error=f"no DNS answer for {name} {rdtype} in time")
        except dns.resolver.NoNameservers as exc:
            return Lookup("error", error=f"the name servers failed to answer ({exc.msg})")
        except dns.exception.DNSException as exc:
            return Lookup("error", error=f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            return Lookup("error", error=exc.strerror or str(exc))
        if answer.rrset is None:
            return Lookup("nodata")
        return Lookup("ok", [_text(rdata, rdtype) for rdata in answer.rrset])

    async def addresses(self, host: str) -> Lookup:
        """The A and AAAA addresses of ``host`` (IPv4 first). Through the given
        nameservers when there are any, else the operating system's resolver (which
        also reads /etc/hosts, as the transports do)."""
        if is_ip(host):
            return Lookup("ok", [host])
        if self.nameservers:
            v4, v6 = await asyncio.gather(self.lookup(host, "A"), self.lookup(host, "AAAA"))
            if v4.status == "ok" or v6.status == "ok":
                return Lookup("ok", v4.records + v6.records)
            for outcome in (v4, v6):
                if outcome.status in ("timeout", "error"):
                    return outcome
            return Lookup("nxdomain" if "nxdomain" in (v4.status, v6.status) else "nodata")
        return await self._system_addresses(host)

    async def _system_addresses(self, host: str) -> Lookup:
        def resolve() -> list[str]:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            found: list[str] = []
            for family, *_rest, sockaddr in infos:
                address = str(sockaddr[0])
                if family in (socket.AF_INET, socket.AF_INET6) and address not in found:
                    found.append(address)
            return sorted(found, key=lambda a: ":" in a)

        try:
            found = await self.deadline.run(_in_daemon_thread(resolve))
        except (TimeoutError, asyncio.TimeoutError):
            return Lookup("timeout", error=f"no DNS answer for {host} in time")
        except socket.gaierror as exc:
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                return Lookup("nxdomain", error=exc.strerror or str(exc))
            return Lookup("error", error=exc.strerror or str(exc))
        except OSError as exc:
            return Lookup("error", error=exc.strerror or str(exc))
        return Lookup("ok", found) if found else Lookup("nodata")


def _text(rdata: Any, rdtype: str) -> str:
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdtype == "MX":
        return f"{rdata.preference} {rdata.exchange}"
    return str(rdata).rstrip(".") if rdtype == "CNAME" else str(rdata)


__all__ = ["EXTRA_HINT", "Dns", "Lookup", "have_dnspython", "is_ip", "parse_nameservers"]
