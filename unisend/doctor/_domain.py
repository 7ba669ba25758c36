"""The sender-domain checks: ``mx``, ``spf``, ``dkim``, ``dmarc`` (DNS only)."""

from __future__ import annotations

import asyncio
from typing import Any

from ._dns import Dns, Lookup
from ._model import DOMAIN_IDS, Status
from ._providers import Provider
from ._results import Results
from ._spf import MAX_LOOKUPS, MAX_VOID_LOOKUPS, walk

#: Selectors tried when no provider route says which to expect.
COMMON_SELECTORS = ("default", "selector1", "selector2", "google", "mail", "dkim", "k1")
_RESOLVER_FIX = "check the DNS resolver (or --nameserver) and run the doctor again"
_RANK = {"ok": 0, "skip": 0, "warn": 1, "fail": 2}


async def check_domain(domain: str, providers: list[Provider], dns: Dns, out: Results) -> None:
    """Run the four domain checks concurrently."""
    await asyncio.gather(
        _mx(domain, dns, out),
        _spf(domain, providers, dns, out),
        _dkim(domain, providers, dns, out),
        _dmarc(domain, dns, out),
    )


def _unreadable(out: Results, id: str, name: str, answer: Lookup) -> None:
    out.add(
        id,
        "warn",
        f"could not look up {name}: {answer.error or answer.status}",
        _RESOLVER_FIX,
    )


async def _mx(domain: str, dns: Dns, out: Results) -> None:
    answer = await dns.lookup(domain, "MX")
    if answer.status == "ok":
        hosts = sorted(answer.records, key=lambda r: int(r.split()[0]))
        if [r.split()[1] for r in hosts] == ["."]:
            out.add(
                "mx",
                "warn",
                f"{domain} has a null MX (0 .): it accepts no mail",
                f"replies and bounces to {domain} are lost, and some receivers refuse such "
                "senders: publish a real MX record if the domain should receive mail",
                records=hosts,
            )
        else:
            out.add("mx", "ok", f"{domain} receives mail at {hosts[0].split()[1]}", records=hosts)
    elif answer.status == "nxdomain":
        out.add(
            "mx",
            "fail",
            f"{domain} does not exist (NXDOMAIN)",
            f"check the spelling of the sender domain {domain}; mail from a domain that does "
            "not exist is refused",
        )
    elif answer.status == "nodata":
        v4, v6 = await asyncio.gather(dns.lookup(domain, "A"), dns.lookup(domain, "AAAA"))
        if v4.status == "ok" or v6.status == "ok":
            out.add(
                "mx",
                "ok",
                f"{domain} has no MX record; mail to it falls back to its A record",
                addresses=v4.records + v6.records,
            )
        else:
            out.add(
                "mx",
                "fail",
                f"{domain} has no MX and no A record: it cannot receive replies or bounces",
                f"publish an MX record for {domain}: receivers refuse senders whose domain "
                "accepts no mail",
            )
    else:
        _unreadable(out, "mx", f"the MX of {domain}", answer)


async def _spf(domain: str, providers: list[Provider], dns: Dns, out: Results) -> None:
    answer, tree = await walk(domain, dns.lookup)
    wanted = [p for p in providers if not set(p.spf_includes) & set(tree.includes)]
    suggestion = " ".join(f"include:{p.spf_includes[0]}" for p in providers)
    details: dict[str, Any] = {"record": tree.record, "lookups": tree.lookups}
    details.update(void_lookups=tree.voids, includes=tree.includes)
    if answer.status in ("timeout", "error"):
        _unreadable(out, "spf", f"the TXT records of {domain}", answer)
        return
    if tree.record is None and not tree.errors:
        record = f"v=spf1 {suggestion} ~all".replace("  ", " ")
        out.add(
            "spf",
            "warn",
            f"{domain} has no SPF record",
            f'publish a TXT record at {domain}: "{record}" (list every service that sends '
            "for the domain)",
        )
        return
    issues: list[tuple[Status, str, str]] = []
    for error in tree.errors:
        issues.append(
            ("fail", error, f"fix the SPF record: {error}; receivers treat it as an error")
        )
    if tree.lookups > MAX_LOOKUPS:
        issues.append(
            (
                "fail",
                f"the SPF record needs {tree.lookups} DNS lookups; the limit is {MAX_LOOKUPS}",
                f"your SPF record needs {tree.lookups} DNS lookups; the limit is {MAX_LOOKUPS}: "
                "remove includes of services you no longer use, or replace some by their ip4:/ip6: "
                "ranges",
            )
        )
    if tree.voids > MAX_VOID_LOOKUPS:
        issues.append(
            (
                "fail",
                f"{tree.voids} SPF lookups find nothing; the limit is {MAX_VOID_LOOKUPS}",
                "remove the terms that point at names without records",
            )
        )
    if tree.all == "+":
        issues.append(
            (
                "fail",
                f"the SPF record ends in +all: every server on the internet may send as {domain}",
                "end the record with ~all (or -all) instead of +all",
            )
        )
    elif tree.all in ("?", None) and tree.record is not None:
        ending = "?all (neutral)" if tree.all == "?" else "no all term"
        issues.append(
            (
                "warn",
                f"the SPF record has {ending}: it does not say what to do with other senders",
                "end the record with ~all (or -all)",
            )
        )
    for provider in wanted:
        include = provider.spf_includes[0]
        issues.append(
            (
                "warn",
                f"the SPF record does not authorise {provider.name} (no include:{include})",
                f"add include:{include} to your SPF record",
            )
        )
    for unknown in tree.unknown:
        issues.append(("warn", f"could not read {unknown}", _RESOLVER_FIX))
    if not issues:
        out.add(
            "spf",
            "ok",
            f"one SPF record, {tree.lookups} of {MAX_LOOKUPS} lookups, ends in {tree.all}all",
            **details,
        )
        return
    worst = max(_RANK[status] for status, _, _ in issues)
    chosen = [issue for issue in issues if _RANK[issue[0]] == worst]
    out.add(
        "spf",
        chosen[0][0],
        "; ".join(summary for _, summary, _ in chosen),
        "; ".join(fix for _, _, fix in chosen),
        problems=[summary for _, summary, _ in issues],
        **details,
    )


async def _selector(domain: str, selector: str, dns: Dns) -> tuple[str, str | None]:
    """``(selector, what was found)``: ``"key"``, ``"revoked"``, ``"cname"`` or None."""
    name = f"{selector}._domainkey.{domain}"
    txt, cname = await asyncio.gather(dns.lookup(name, "TXT"), dns.lookup(name, "CNAME"))
    if txt.status == "ok":
        for record in txt.records:
            tags = _tags(record)
            if "p" in tags:
                return selector, "key" if tags["p"] else "revoked"
    if cname.status == "ok":
        return selector, "cname"
    return selector, None


async def _dkim(domain: str, providers: list[Provider], dns: Dns, out: Results) -> None:
    known = [p for p in providers if p.dkim_selectors]
    unguessable = [p.name for p in providers if not p.dkim_selectors]
    if not known and unguessable:
        out.add(
            "dkim",
            "skip",
            f"{', '.join(unguessable)} chooses a DKIM selector per domain (e.g. a date followed "
            "by pm for Postmark): check it in the provider's domain settings",
        )
        return
    selectors = [s for p in known for s in p.dkim_selectors] or list(COMMON_SELECTORS)
    found = dict(await asyncio.gather(*(_selector(domain, s, dns) for s in selectors)))
    present = sorted(s for s, kind in found.items() if kind in ("key", "cname"))
    revoked = sorted(s for s, kind in found.items() if kind == "revoked")
    details: dict[str, Any] = {"selectors": selectors, "found": present, "revoked": revoked}
    if not known:
        if present:
            out.add("dkim", "ok", f"DKIM key found at selector {', '.join(present)}", **details)
        else:
            out.add(
                "dkim",
                "skip",
                f"no DKIM key at the usual selectors ({', '.join(selectors)}); your mail "
                "server's selector is unknown to the doctor",
                **details,
            )
        return
    missing = [p for p in known if not set(p.dkim_selectors) & set(present)]
    if missing or revoked:
        parts = [
            f"no DKIM key for {p.name} (selectors "
            f"{', '.join(f'{s}._domainkey.{domain}' for s in p.dkim_selectors)})"
            for p in missing
        ] + [f"the DKIM key at {s}._domainkey.{domain} is revoked (empty p=)" for s in revoked]
        names = ", ".join(p.name for p in missing) or "the provider"
        out.add(
            "dkim",
            "warn",
            "; ".join(parts),
            f"publish the DKIM records (CNAME or TXT) that {names} shows in its domain "
            f"authentication settings for {domain}; without DKIM, mail is not aligned for DMARC",
            **details,
        )
        return
    out.add("dkim", "ok", f"DKIM keys found at {', '.join(present)}", **details)


def _tags(record: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags.setdefault(key.strip().lower(), "".join(value.split()))
    return tags


def _dmarc_records(answer: Lookup) -> list[str]:
    return [
        r.strip()
        for r in answer.records
        if r.strip().replace(" ", "").lower().startswith("v=dmarc1")
    ]


async def _dmarc(domain: str, dns: Dns, out: Results) -> None:
    labels = domain.split(".")
    # DMARCbis (RFC 9989) tree walk: the domain itself, then each parent above the TLD.
    names = [".".join(labels[i:]) for i in range(max(1, len(labels) - 1))]
    answers = await asyncio.gather(*(dns.lookup(f"_dmarc.{name}", "TXT") for name in names))
    fix_missing = (
        f'publish a TXT record at _dmarc.{domain}: "v=DMARC1; p=quarantine; '
        f'rua=mailto:dmarc-reports@{domain}" (start with p=none while you read the reports)'
    )
    for name, answer in zip(names, answers, strict=True):
        if answer.status in ("timeout", "error"):
            _unreadable(out, "dmarc", f"_dmarc.{name}", answer)
            return
        records = _dmarc_records(answer)
        if not records:
            continue
        if len(records) > 1:
            out.add(
                "dmarc",
                "fail",
                f"_dmarc.{name} has {len(records)} DMARC records; receivers ignore them all",
                f"keep exactly one v=DMARC1 record at _dmarc.{name}",
                records=records,
            )
            return
        _judge_dmarc(out, domain, name, records[0])
        return
    out.add("dmarc", "warn", f"no DMARC record at _dmarc.{domain}", fix_missing)


def _judge_dmarc(out: Results, domain: str, name: str, record: str) -> None:
    tags = _tags(record)
    inherited = name != domain
    policy = (tags.get("sp") or tags.get("p")) if inherited else tags.get("p")
    where = f"_dmarc.{name}" + (f" (inherited by {domain})" if inherited else "")
    details: dict[str, Any] = {"record": record, "policy": policy, "found_at": f"_dmarc.{name}"}
    details.update(
        {k: v for k, v in tags.items() if k in ("sp", "adkim", "aspf", "rua", "t", "np")}
    )
    if policy is None:
        out.add(
            "dmarc",
            "warn",
            f"{where} has no p= policy; receivers treat it as p=none",
            f"add p=quarantine (or p=none while monitoring) to the record at _dmarc.{name}",
            **details,
        )
    elif policy.lower() not in ("none", "quarantine", "reject"):
        out.add(
            "dmarc",
            "fail",
            f"{where} has an invalid policy p={policy}",
            f"set p= to none, quarantine or reject in the record at _dmarc.{name}",
            **details,
        )
    elif policy.lower() == "none":
        out.add(
            "dmarc",
            "warn",
            f"{where}: p=none only monitors; spoofed mail is still delivered",
            "once SPF or DKIM passes for all your mail (see the rua reports), move to "
            "p=quarantine, then p=reject",
            **details,
        )
    elif tags.get("t", "").lower() == "y":
        out.add(
            "dmarc",
            "warn",
            f"{where}: p={policy} in test mode (t=y): receivers apply a weaker policy",
            f"remove t=y from the record at _dmarc.{name} when the reports look clean",
            **details,
        )
    else:
        out.add("dmarc", "ok", f"{where}: p={policy.lower()}", **details)


__all__ = ["COMMON_SELECTORS", "DOMAIN_IDS", "check_domain"]
