"""``diagnose`` / ``adiagnose``: run every check of a URL (and a sender domain) at once,
within one time budget."""

from __future__ import annotations

import asyncio
import math
import os
import re
from collections.abc import Awaitable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._errors import ConfigurationError
from .._redact import redact_text, redact_url
from ._api import API_IDS, check_api, proxy_for
from ._blocklist import check_blocklist
from ._dns import EXTRA_HINT, Dns, have_dnspython, parse_nameservers
from ._domain import DOMAIN_IDS, check_domain
from ._model import CHECK_IDS, Check, Diagnosis
from ._net import Deadline
from ._results import Results
from ._routes import Route, load_routes, url_secrets
from ._smtp import SMTP_IDS, check_smtp

#: Seconds a route may run past the deadline before its unfinished checks are skipped
#: (every step already stops at the deadline; this only guards against a stuck step).
_GRACE = 0.5
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _check_timeout(timeout: object) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ConfigurationError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


def _check_domain(domain: object) -> str | None:
    if domain is None:
        return None
    if not isinstance(domain, str):
        raise ConfigurationError(
            f"domain must be a domain name such as example.com, not {domain!r}"
        )
    text = domain.strip().lower().rstrip(".")
    if "@" in text:
        text = text.rpartition("@")[2]  # an address was given: its domain is meant
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_name = ""
    labels = ascii_name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ConfigurationError(
            f"domain {domain!r} is not a domain name; give the sender domain, e.g. example.com"
        )
    return ascii_name


async def _route_checks(
    route: Route, dns: Dns, deadline: Deadline, login: bool, out: Results
) -> None:
    if route.kind == "local":
        return
    proxy = proxy_for(route.key_url) if route.kind == "http" else None
    if proxy:
        out.add("dns", "skip", f"through the proxy in ${proxy}: the proxy resolves {route.host}")
        await check_api(route, [], deadline, out)
        return
    answer = await dns.addresses(route.host)
    if answer.status != "ok":
        reason = {
            "nxdomain": f"{route.host} does not exist (NXDOMAIN)",
            "nodata": f"{route.host} has no A or AAAA record",
            "timeout": f"the DNS lookup of {route.host} timed out",
        }.get(answer.status, f"the DNS lookup of {route.host} failed: {answer.error}")
        fix = (
            f"check the host name in the URL: {route.host} is not in DNS (a typo? use the "
            "provider's documented host)"
            if answer.status in ("nxdomain", "nodata")
            else "check this machine's DNS resolver (/etc/resolv.conf, or --nameserver)"
        )
        out.add("dns", "fail", reason, fix, error=answer.status)
        out.skip(_ids(route), "the host name did not resolve")
        return
    addresses = answer.records
    summary = (
        f"{route.host} is an IP address"
        if addresses == [route.host]
        else f"{route.host} resolves to {', '.join(addresses)}"
    )
    out.add("dns", "ok", summary, addresses=addresses)
    if route.kind == "smtp":
        await asyncio.gather(
            check_smtp(route, addresses, deadline, login, out),
            check_blocklist(addresses, dns, out),
        )
    else:
        await check_api(route, addresses, deadline, out)


def _ids(route: Route) -> tuple[str, ...]:
    if route.kind == "smtp":
        return ("dns", *SMTP_IDS, "blocklist")
    if route.kind == "http":
        return ("dns", *API_IDS)
    return ()


async def _guarded(
    work: Awaitable[None], out: Results, ids: tuple[str, ...], deadline: Deadline
) -> None:
    try:
        await asyncio.wait_for(work, deadline.left() + _GRACE)
    except (TimeoutError, asyncio.TimeoutError):
        pass
    out.skip(ids, f"the time budget ({deadline.seconds:g}s) ran out")


def _prepare(url: str | None) -> tuple[list[Route], list[Check]]:
    """The routes and config checks of ``url``, with the DNS library loaded."""
    if have_dnspython():
        import dns.asyncresolver  # noqa: F401 - loaded here, not on the event loop
    return load_routes(url)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item, secrets) for item in value]
    return value


def _clean(check: Check, secrets: list[str]) -> Check:
    return Check(
        check.id,
        check.route,
        check.status,
        _scrub(check.summary, secrets),
        _scrub(check.fix, secrets) if check.fix else None,
        _scrub(dict(check.details), secrets),
    )


async def adiagnose(
    url: str | None = None,
    *,
    domain: str | None = None,
    timeout: float = 10.0,
    nameservers: Sequence[str] | None = None,
    login: bool = True,
) -> Diagnosis:
    """Check why mail may not leave through ``url`` (default ``$UNISEND_URL``) and, with
    ``domain``, whether the sender domain's DNS (MX, SPF, DKIM, DMARC) is in order.

    Every route of a composite URL is checked, all concurrently, within about ``timeout``
    seconds. ``nameservers`` (``["IP"]``, ``["IP:PORT"]``, ``["[v6]:PORT"]``) replaces the
    system resolver; ``login=False`` skips the AUTH attempt. Never sends a message.
    Bad arguments raise :class:`~unisend.ConfigurationError`; a bad URL is a failed
    ``config`` check.
    """
    seconds = _check_timeout(timeout)
    servers = parse_nameservers(list(nameservers) if nameservers is not None else None)
    sender_domain = _check_domain(domain)
    if (servers or sender_domain) and not have_dnspython():
        raise ConfigurationError(f"domain and nameservers checks need dnspython: {EXTRA_HINT}")
    if url is None:
        url = os.environ.get("UNISEND_URL")
    # Building the transports imports their modules and loads CA stores: off the event
    # loop, and before the clock starts, so the network steps get the whole budget.
    routes, config_checks = await asyncio.to_thread(_prepare, url)
    deadline = Deadline(seconds)
    dns = Dns(servers, deadline)
    route_results = [Results(route.name) for route in routes]
    domain_results = Results(None)
    work = [
        _guarded(_route_checks(route, dns, deadline, login, out), out, _ids(route), deadline)
        for route, out in zip(routes, route_results, strict=True)
    ]
    if sender_domain:
        providers = []
        for route in routes:
            if route.provider is not None and route.provider not in providers:
                providers.append(route.provider)
        work.append(
            _guarded(
                check_domain(sender_domain, providers, dns, domain_results),
                domain_results,
                DOMAIN_IDS,
                deadline,
            )
        )
    else:
        domain_results.skip(DOMAIN_IDS, "no sender domain given (domain= / --domain)")
    try:
        await asyncio.gather(*work)
    finally:
        for route in routes:
            if route.transport is not None:
                route.transport.close()
    order = {id: position for position, id in enumerate(CHECK_IDS)}
    checks = [c for c in config_checks if c.route is None]
    for route_name in dict.fromkeys(c.route for c in config_checks if c.route is not None):
        checks += [c for c in config_checks if c.route == route_name]
        for out in route_results:
            if out.route == route_name:
                checks += sorted(out.checks.values(), key=lambda c: order[c.id])
    checks += sorted(domain_results.checks.values(), key=lambda c: order[c.id])
    secrets = url_secrets(url)
    return Diagnosis(
        [_clean(check, secrets) for check in checks],
        url=redact_url(url or ""),
        domain=sender_domain,
    )


def diagnose(
    url: str | None = None,
    *,
    domain: str | None = None,
    timeout: float = 10.0,
    nameservers: Sequence[str] | None = None,
    login: bool = True,
) -> Diagnosis:
    """Blocking :func:`adiagnose` (same arguments): safe to call from a web view or a
    script; inside a running event loop it runs on a helper thread."""
    run = adiagnose(url, domain=domain, timeout=timeout, nameservers=nameservers, login=login)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run)
    with ThreadPoolExecutor(1, thread_name_prefix="unisend-doctor") as pool:
        return pool.submit(asyncio.run, run).result()


__all__ = ["adiagnose", "diagnose"]
