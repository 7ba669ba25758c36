"""The routes of a configuration URL, each with its ``config`` check (no network).

A composite URL (``failover(...)`` / ``roundrobin(...)``, nested or not) is split with
the URL module's own grammar and every leaf is built with :func:`unisend.from_url`, so a
route the library would refuse fails here with the library's own message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .._errors import ConfigurationError
from .._redact import redact_url
from .._url import COMPOSITIONS, _split_routes, from_url, parse_url
from ._model import Check
from ._providers import PROVIDERS, SCHEME_PROVIDERS, Provider, provider_for_smtp_host

if TYPE_CHECKING:
    from ..transports.base import Transport

_LOCAL_SCHEMES = {
    "memory": "keeps mail in this process",
    "console": "prints mail instead of sending it",
    "sandbox": "stores mail in a local file",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class Route:
    """One leaf route of the URL, as the doctor checks it."""

    name: str
    #: The route's URL with its secrets masked.
    display: str
    scheme: str
    #: ``"smtp"``, ``"http"`` (a provider API) or ``"local"``.
    kind: str
    host: str = ""
    port: int = 0
    #: SMTP: ``"starttls"``, ``"ssl"`` or ``"none"``.
    security: str = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    allow_insecure_auth: bool = False
    min_tls: str = "1.2"
    ca_file: str | None = None
    provider: Provider | None = None
    #: HTTP: the read-only key-check URL.
    key_url: str = ""
    transport: Transport | None = field(default=None, repr=False)
    #: Raw secret values of this route, scrubbed from everything the doctor reports.
    secrets: list[str] = field(default_factory=list, repr=False)


def leaf_urls(url: str) -> list[str]:
    """The leaf URLs of ``url`` (itself when it is not a composition)."""
    url = url.strip()
    display = redact_url(url)
    name, paren, rest = url.partition("(")
    if paren and name.strip().lower() in COMPOSITIONS and "://" not in name:
        close = rest.rfind(")")
        if close < 0:
            raise ConfigurationError(f"{display}: missing ')'")
        leaves: list[str] = []
        for child in _split_routes(rest[:close], display):
            leaves += leaf_urls(child)
        return leaves
    return [url]


def _secrets_of(url: str) -> list[str]:
    try:
        spec = parse_url(url)
    except ConfigurationError:
        return []
    raw = [spec.password] if spec.scheme in {"smtp", "smtps"} else [spec.username, spec.password]
    secrets = {value for value in raw if value}
    secrets |= {quote(value, safe="") for value in secrets}
    return sorted(secrets, key=len, reverse=True)


def url_secrets(url: str | None) -> list[str]:
    """Every secret in ``url`` (each route's password or key, raw and percent-encoded),
    longest first."""
    try:
        leaves = leaf_urls(url or "")
    except ConfigurationError:
        leaves = [url or ""]
    found = {secret for leaf in leaves for secret in _secrets_of(leaf)}
    return sorted(found, key=len, reverse=True)


def _route(leaf: str, transport: Transport) -> Route:
    from ..transports._http import HttpTransport
    from ..transports.smtp import SMTPTransport

    spec = parse_url(leaf)
    route = Route(
        name=transport.name,
        display=spec.display,
        scheme=spec.scheme,
        kind="local",
        transport=transport,
        secrets=_secrets_of(leaf),
        min_tls=spec.query.get("min_tls", "1.2"),
        ca_file=spec.query.get("ca_file") or None,
    )
    if isinstance(transport, SMTPTransport):
        route.kind = "smtp"
        route.host, route.port, route.security = transport.host, transport.port, transport.security
        route.username = transport.username
        route.password = spec.password or None
        route.allow_insecure_auth = transport.allow_insecure_auth
        route.min_tls = transport.min_tls
        route.provider = provider_for_smtp_host(transport.host)
    elif isinstance(transport, HttpTransport):
        route.kind = "http"
        route.provider = PROVIDERS[SCHEME_PROVIDERS[spec.scheme]]
        base = transport.base_url
        custom = "base_url" in spec.query or spec.host not in ("", "default")
        if route.provider.key_base_url and not custom:
            base = route.provider.key_base_url
        route.key_url = base + route.provider.key_path
        parts = urlsplit(route.key_url)
        route.host = parts.hostname or ""
        route.port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)
    return route


def _config_check(route: Route) -> Check:
    details: dict[str, Any] = {"url": route.display, "kind": route.kind}
    if route.kind == "local":
        what = _LOCAL_SCHEMES.get(route.scheme, "does not deliver mail")
        return Check(
            "config",
            route.name,
            "warn",
            f"{route.scheme}:// {what}: nothing is delivered",
            fix="set the URL (UNISEND_URL) to an SMTP or provider URL to deliver mail",
            details=details,
        )
    if route.scheme == "mailtrap+sandbox" or (
        route.scheme == "postmark" and getattr(route.transport, "sandbox", False)
    ):
        return Check(
            "config",
            route.name,
            "warn",
            f"{route.display} is a testing sandbox: mail is captured, not delivered",
            fix="use the provider's sending URL (without sandbox) to deliver mail",
            details=details,
        )
    if route.kind == "smtp":
        details.update(host=route.host, port=route.port, security=route.security)
        details["credentials"] = route.username is not None
        who = f" as {route.username}" if route.username else " without credentials"
        summary = f"{route.display} parses: {route.security} to {route.host}:{route.port}{who}"
    else:
        summary = f"{route.display} parses; credentials present"
    return Check("config", route.name, "ok", summary, details=details)


def load_routes(url: str | None) -> tuple[list[Route], list[Check]]:
    """The routes of ``url`` and their ``config`` checks (a failed check has no route
    object). Never raises for a bad URL: that is a failed ``config`` check."""
    if not url or not url.strip():
        return [], [
            Check(
                "config",
                None,
                "fail",
                "no URL to check",
                fix="pass url= (or --url), or set UNISEND_URL, e.g. smtp://user:pass@host:587",
            )
        ]
    try:
        leaves = leaf_urls(url)
    except ConfigurationError as exc:
        return [], [Check("config", None, "fail", "the URL cannot be parsed", fix=str(exc))]
    routes: list[Route] = []
    checks: list[Check] = []
    taken: dict[str, int] = {}
    for position, leaf in enumerate(leaves, 1):
        try:
            transport = from_url(leaf)
            route = _route(leaf, transport)
        except ConfigurationError as exc:
            name = _fallback_name(leaf, position)
            checks.append(
                Check(
                    "config",
                    _unique(name, taken),
                    "fail",
                    f"{redact_url(leaf)} does not make a route",
                    fix=str(exc),
                    details={"url": redact_url(leaf)},
                )
            )
            continue
        route.name = _unique(route.name, taken)
        routes.append(route)
        checks.append(_config_check(route))
    if len(leaves) > 1 and len(routes) == len(leaves):
        try:
            from_url(url).close()
        except ConfigurationError as exc:
            checks.append(Check("config", None, "fail", "the composition is invalid", fix=str(exc)))
    return routes, checks


def _fallback_name(leaf: str, position: int) -> str:
    try:
        spec = parse_url(leaf)
    except ConfigurationError:
        return f"route{position}"
    return spec.query.get("name") or spec.scheme or f"route{position}"


def _unique(name: str, taken: dict[str, int]) -> str:
    """``name``, or ``name#2``, ``name#3``... when routes share a name."""
    count = taken.get(name, 0) + 1
    taken[name] = count
    return name if count == 1 else f"{name}#{count}"


__all__ = ["Route", "leaf_urls", "load_routes", "url_secrets"]
