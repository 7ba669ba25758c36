"""A real DNS server on loopback (dnslib's server, UDP and TCP) serving in-memory zones.

``DnsServer(records)``: ``records`` maps a name (no trailing dot) to ``[(type, value)]``
with type ``A``, ``AAAA``, ``MX`` (value ``"10 host"``), ``TXT`` or ``CNAME``. A name
not in the map answers NXDOMAIN; a known name without the asked type answers NOERROR
with no data. A TXT or A query for a CNAME name answers the CNAME (and the target's
records when the target is in the map), as a real server does.
"""

from __future__ import annotations

import threading
from typing import Any

from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


def _rdata(rtype: str, value: str) -> Any:
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    if rtype == "MX":
        preference, _, host = value.partition(" ")
        return MX(host, int(preference))
    if rtype == "CNAME":
        return CNAME(value)
    if rtype == "TXT":
        # One TXT record may hold several strings of at most 255 bytes each.
        return TXT([value[i : i + 255] for i in range(0, len(value), 255)] or [""])
    raise ValueError(rtype)


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, records: dict[str, list[tuple[str, str]]]) -> None:
        self.records = {name.lower().rstrip("."): entries for name, entries in records.items()}
        self.queries: list[tuple[str, str]] = []

    def _answer(self, reply: Any, name: str, qtype: str, depth: int = 0) -> bool:
        entries = self.records.get(name)
        if entries is None:
            return False
        for rtype, value in entries:
            if rtype == qtype or (rtype == "CNAME" and qtype != "CNAME"):
                reply.add_answer(
                    RR(name, getattr(QTYPE, rtype), rdata=_rdata(rtype, value), ttl=60)
                )
                if rtype == "CNAME" and qtype != "CNAME" and depth < 8:
                    self._answer(reply, value.lower().rstrip("."), qtype, depth + 1)
        return True

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        qtype = QTYPE[request.q.qtype]
        self.queries.append((name, qtype))
        if not self._answer(reply, name, qtype):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class DnsServer:
    """UDP + TCP DNS server on 127.0.0.1 (one free port for both); use as a context
    manager. ``nameserver`` is the ``IP:PORT`` to give the doctor."""

    def __init__(self, records: dict[str, list[tuple[str, str]]]) -> None:
        self.resolver = _ZoneResolver(records)
        quiet = DNSLogger(
            log="-request,-reply,-truncated,-error,-recv,-send,-data", logf=lambda *_: None
        )
        self.udp = DNSServer(self.resolver, address="127.0.0.1", port=0, logger=quiet)
        self.port = self.udp.server.server_address[1]
        self.tcp = DNSServer(
            self.resolver, address="127.0.0.1", port=self.port, tcp=True, logger=quiet
        )
        self.nameserver = f"127.0.0.1:{self.port}"

    def __enter__(self) -> DnsServer:
        for server in (self.udp, self.tcp):
            threading.Thread(target=server.start, daemon=True, name="doctor-dns").start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self.udp, self.tcp):
            server.server.shutdown()
            server.server.server_close()

    @property
    def queries(self) -> list[tuple[str, str]]:
        """Every (name, type) asked so far."""
        return self.resolver.queries
