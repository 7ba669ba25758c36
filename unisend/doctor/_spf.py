"""SPF (RFC 7208) as the doctor reads it: one ``v=spf1`` record, at most 10 terms that
cause DNS lookups (include, a, mx, ptr, exists, redirect; §4.6.4), counted through every
include, and at most 2 void lookups. Evaluation needs no sending IP: it walks the record
tree, it does not decide pass/fail for an address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ._dns import Lookup

MAX_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
#: Stop walking once this many lookup terms were seen (the answer is long since "too many").
_WALK_CAP = 40
_LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists"})
_MECHANISMS = _LOOKUP_TERMS | {"all", "ip4", "ip6"}

LookupFn = Callable[[str, str], Awaitable[Lookup]]


def spf_records(texts: list[str]) -> list[str]:
    """The ``v=spf1`` records among a name's TXT strings (§4.5)."""
    return [
        text.strip()
        for text in texts
        if text.strip().lower() == "v=spf1" or text.strip().lower().startswith("v=spf1 ")
    ]


@dataclass
class SpfTree:
    """What walking a domain's SPF record found."""

    record: str | None = None
    lookups: int = 0
    voids: int = 0
    #: Every include/redirect target, at any depth (lower case).
    includes: list[str] = field(default_factory=list)
    #: The top record's ``all`` qualifier (``"+"``, ``"-"``, ``"~"``, ``"?"``), after
    #: any redirect; None when there is none.
    all: str | None = None
    #: Permanent errors (permerror in RFC terms).
    errors: list[str] = field(default_factory=list)
    #: Lookups that could not be made (timeouts, resolver errors).
    unknown: list[str] = field(default_factory=list)


async def walk(domain: str, lookup: LookupFn) -> tuple[Lookup, SpfTree]:
    """Read ``domain``'s SPF record and walk its includes; the first item is the raw
    TXT lookup of ``domain``."""
    tree = SpfTree()
    answer = await lookup(domain, "TXT")
    if answer.status != "ok":
        return answer, tree
    records = spf_records(answer.records)
    if len(records) > 1:
        tree.errors.append(f"{domain} has {len(records)} v=spf1 records; receivers ignore both")
        return answer, tree
    if records:
        tree.record = records[0]
        await _walk(records[0], domain, tree, lookup, frozenset({domain}), top=True)
    return answer, tree


async def _walk(
    record: str,
    domain: str,
    tree: SpfTree,
    lookup: LookupFn,
    seen: frozenset[str],
    *,
    top: bool,
) -> None:
    includes: list[str] = []
    voids: list[Awaitable[bool]] = []
    redirect: str | None = None
    has_all = False
    for term in record.split()[1:]:
        qualifier = term[0] if term[0] in "+-~?" else "+"
        body = term.lstrip("+-~?")
        equals, colon = body.find("="), body.find(":")
        if equals > 0 and (colon < 0 or equals < colon):  # a modifier: name=value
            name, value = body[:equals].lower(), body[equals + 1 :]
            if name == "redirect":
                tree.lookups += 1
                redirect = value.lower().rstrip(".")
            continue
        mechanism, _, argument = body.partition(":")
        mechanism = mechanism.split("/")[0].lower()
        target = argument.split("/")[0].lower().rstrip(".")
        if mechanism not in _MECHANISMS:
            tree.errors.append(f"unknown SPF term {term!r} in {domain}'s record")
            continue
        if mechanism == "all":
            has_all = True
            if top:
                tree.all = qualifier
            continue
        if mechanism in _LOOKUP_TERMS:
            tree.lookups += 1
        if "%" in target:  # a macro: expanded per message, cannot be followed here
            continue
        if mechanism == "include":
            includes.append(target)
        elif mechanism in ("a", "mx", "exists"):
            voids.append(_is_void(lookup, target or domain, mechanism))
    targets = includes + ([redirect] if redirect and not has_all else [])
    tree.includes += targets
    results = await asyncio.gather(*voids, *(_fetch(lookup, target) for target in targets))
    tree.voids += sum(1 for void in results[: len(voids)] if void)
    children = []
    for target, fetched in zip(targets, results[len(voids) :], strict=True):
        if not isinstance(fetched, Lookup):  # pragma: no cover - results are typed by position
            continue
        child = _child_record(target, fetched, tree, seen)
        if child is not None and tree.lookups <= _WALK_CAP:
            is_redirect = target == redirect and target not in includes
            children.append(
                _walk(child, target, tree, lookup, seen | {target}, top=top and is_redirect)
            )
    await asyncio.gather(*children)


async def _fetch(lookup: LookupFn, target: str) -> Lookup:
    return await lookup(target, "TXT")


async def _is_void(lookup: LookupFn, name: str, mechanism: str) -> bool:
    if mechanism == "mx":
        return (await lookup(name, "MX")).empty
    if mechanism == "exists":
        return (await lookup(name, "A")).empty
    v4, v6 = await asyncio.gather(lookup(name, "A"), lookup(name, "AAAA"))
    return v4.empty and v6.empty


def _child_record(target: str, fetched: Lookup, tree: SpfTree, seen: frozenset[str]) -> str | None:
    if target in seen:
        tree.errors.append(f"include:{target} loops back to a record that includes it")
        return None
    if fetched.empty:
        tree.voids += 1
        tree.errors.append(f"include:{target} has no SPF record ({fetched.status})")
        return None
    if fetched.status != "ok":
        tree.unknown.append(f"{target}: {fetched.error or fetched.status}")
        return None
    records = spf_records(fetched.records)
    if not records:
        tree.errors.append(f"include:{target} has no SPF record")
        return None
    if len(records) > 1:
        tree.errors.append(f"{target} has {len(records)} v=spf1 records")
        return None
    return records[0]


__all__ = ["MAX_LOOKUPS", "MAX_VOID_LOOKUPS", "SpfTree", "spf_records", "walk"]
