"""The ``blocklist`` check (RFC 5782): each IPv4 address of an SMTP server against DNS
blocklists. An answer in 127.0.0.0/8 means listed, NXDOMAIN not listed, and Spamhaus'
127.255.255.0/24 answers are errors (254: the query came through a public resolver),
never a listing."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from ._dns import EXTRA_HINT, Dns
from ._results import Results

ZONES = ("zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org")
_ERROR_ANSWERS = ipaddress.ip_network("127.255.255.0/24")
_LISTED_ANSWERS = ipaddress.ip_network("127.0.0.0/8")


def query_name(address: str, zone: str) -> str:
    """``192.0.2.1`` + ``zen.spamhaus.org`` -> ``1.2.0.192.zen.spamhaus.org``."""
    return ".".join(reversed(address.split("."))) + "." + zone


async def _ask(address: str, zone: str, dns: Dns) -> tuple[str, str, str, list[str]]:
    """``(address, zone, verdict, answers)``; verdict is ``"listed"``, ``"clean"``,
    ``"refused"`` or ``"unknown"``."""
    answer = await dns.lookup(query_name(address, zone), "A")
    if answer.empty:
        return address, zone, "clean", []
    if answer.status != "ok":
        return address, zone, "unknown", [answer.error or answer.status]
    ips = [ipaddress.ip_address(r) for r in answer.records]
    if any(ip in _ERROR_ANSWERS for ip in ips):
        return address, zone, "refused", answer.records
    if any(ip in _LISTED_ANSWERS for ip in ips):
        return address, zone, "listed", answer.records
    # Anything else (a resolver that rewrites NXDOMAIN to an ad server) proves nothing.
    return address, zone, "unknown", answer.records


async def check_blocklist(addresses: list[str], dns: Dns, out: Results) -> None:
    """Query every (IPv4 address, list) pair concurrently and record one check."""
    v4 = [a for a in addresses if ipaddress.ip_address(a).version == 4]
    if not v4:
        out.add("blocklist", "skip", "the server has no IPv4 address (the lists are IPv4)")
        return
    if not dns.available:
        out.add("blocklist", "skip", f"not checked: {EXTRA_HINT}")
        return
    results = await asyncio.gather(*(_ask(a, zone, dns) for a in v4 for zone in ZONES))
    listed = [(a, z, answers) for a, z, verdict, answers in results if verdict == "listed"]
    refused = sorted({z for _, z, verdict, _ in results if verdict == "refused"})
    unknown = sorted({z for _, z, verdict, _ in results if verdict == "unknown"})
    details: dict[str, Any] = {
        "addresses": v4,
        "lists": list(ZONES),
        "results": [
            {"address": a, "list": z, "verdict": verdict, "answers": answers}
            for a, z, verdict, answers in results
        ],
    }
    if listed:
        where = "; ".join(f"{a} on {z} ({', '.join(answers)})" for a, z, answers in listed)
        out.add(
            "blocklist",
            "fail",
            f"listed: {where}",
            "the server's IP is on a blocklist, so receivers refuse or junk its mail: look the "
            "address up on the list's site (e.g. check.spamhaus.org), fix the cause and "
            "request removal, or send through another server or provider",
            **details,
        )
    elif refused or unknown:
        parts = []
        if refused:
            parts.append(
                f"{', '.join(refused)} refused the query (127.255.255.x: queries through a "
                "public resolver are refused)"
            )
        if unknown:
            parts.append(f"no usable answer from {', '.join(unknown)}")
        out.add("blocklist", "skip", "inconclusive: " + "; ".join(parts), **details)
    else:
        out.add(
            "blocklist",
            "ok",
            f"{', '.join(v4)} not listed on {', '.join(ZONES)}",
            **details,
        )


__all__ = ["ZONES", "check_blocklist", "query_name"]
