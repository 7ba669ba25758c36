"""Configuration URLs: parsing, composition and the scheme registry.

``from_url("smtp://user:pass@host:587")`` looks the scheme up in :data:`SCHEMES` and
imports the provider's module only then, so ``import unisend`` stays light. Each scheme
declares the query parameters it takes, typed, in :data:`OPTIONS`; each maps onto the
constructor keyword of the same name. The composition grammar (``failover(URL URL
...)?query``, ``roundrobin(...)``, nesting) and its factories are here too.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ._errors import ConfigurationError
from ._redact import redact_url, userinfo_spans

if TYPE_CHECKING:
    from .transports.base import Transport

#: scheme -> "module:factory"; each factory takes a :class:`UrlSpec`.
SCHEMES: dict[str, str] = {
    "smtp": "unisend.transports.smtp:from_spec",
    "smtps": "unisend.transports.smtp:from_spec",
    "sendgrid": "unisend.transports.sendgrid:from_spec",
    "postmark": "unisend.transports.postmark:from_spec",
    "mailjet": "unisend.transports.mailjet:from_spec",
    "brevo": "unisend.transports.brevo:from_spec",
    "mailtrap": "unisend.transports.mailtrap:from_spec",
    "mailtrap+sandbox": "unisend.transports.mailtrap:from_spec",
    "memory": "unisend.transports.memory:from_spec",
    "console": "unisend.transports.console:from_spec",
    "sandbox": "unisend.transports.sandbox:from_spec",
}

#: Constructor keywords that carry secrets: they come from the URL's user part only.
CREDENTIAL_KEYWORDS = frozenset(
    {"username", "password", "api_key", "secret_key", "server_token", "token", "oauth_token"}
)


@dataclass(frozen=True)
class UrlSpec:
    """A parsed configuration URL; secrets are percent-decoded and hidden from ``repr``."""

    scheme: str
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    host: str = ""
    port: int | None = None
    path: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    #: The URL with its credentials masked, for messages.
    display: str = ""

    def __repr__(self) -> str:
        return f"UrlSpec({self.display!r})"

    def require(self, what: str, value: str) -> str:
        """Return ``value`` or raise a ConfigurationError saying ``what`` is missing."""
        if not value:
            raise ConfigurationError(f"{self.display}: the URL is missing {what}")
        return value

    def options(self, *, skip: Iterable[str] = ()) -> dict[str, Any]:
        """The query parameters as typed keyword arguments, as :data:`OPTIONS` declares
        them for this scheme; the names in ``skip`` are left to the caller (and ignored
        here). An undeclared name, a credential or a value of the wrong type is a
        ConfigurationError saying what the scheme takes."""
        declared = OPTIONS.get(self.scheme, {})
        skipped = set(skip)
        kwargs: dict[str, Any] = {}
        for key, raw in self.query.items():
            if key in CREDENTIAL_KEYWORDS:
                raise ConfigurationError(
                    f"{self.display}: put the credential in the URL's user part "
                    f"(scheme://USER:SECRET@host or scheme://KEY@default), not in ?{key}="
                )
            if key in skipped:
                continue
            kind = declared.get(key)
            if kind is None:
                known = sorted(set(declared) - skipped)
                raise ConfigurationError(
                    f"{self.display}: unknown query parameter {key!r}; "
                    f"this scheme takes {', '.join(known) or 'none'}"
                )
            kwargs[key] = _coerce(key, raw, kind, self.display)
        return kwargs

    def kwargs_for(self, factory: object = None, *, skip: Iterable[str] = ()) -> dict[str, Any]:
        """:meth:`options` (``factory`` is no longer read: the options are declared in
        :data:`OPTIONS`); kept for the transports that still call it."""
        return self.options(skip=skip)


#: What a query value becomes.
OptionType = type[bool] | type[int] | type[float] | type[str]

_HTTP_OPTIONS: dict[str, OptionType] = {
    "base_url": str,
    "timeout": float,
    "connect_timeout": float,
    "name": str,
    "min_tls": str,
    "ca_file": str,
}
_SMTP_OPTIONS: dict[str, OptionType] = {
    "security": str,
    "min_tls": str,
    "allow_insecure_auth": bool,
    "timeout": float,
    "local_hostname": str,
    "name": str,
    "ca_file": str,
    "pool_size": int,
    "max_messages_per_connection": int,
    "idle_timeout": float,
    "pool_timeout": float,
    "auth": str,
}
_RETRY_OPTIONS: dict[str, OptionType] = {
    "attempts": int,
    "backoff": float,
    "max_backoff": float,
    "max_retry_after": float,
    "jitter": bool,
}
_MAILTRAP_OPTIONS: dict[str, OptionType] = {
    **_HTTP_OPTIONS,
    "sandbox": bool,
    "inbox_id": str,
    "bulk": bool,
}

#: scheme (or composition) -> the query parameters it takes and their types; each maps
#: onto the constructor keyword of the same name (a test checks they exist there).
OPTIONS: dict[str, Mapping[str, OptionType]] = {
    "smtp": _SMTP_OPTIONS,
    "smtps": _SMTP_OPTIONS,
    "sendgrid": {**_HTTP_OPTIONS, "sandbox": bool},
    "postmark": {**_HTTP_OPTIONS, "message_stream": str, "sandbox": bool},
    "mailjet": {**_HTTP_OPTIONS, "sandbox": bool},
    "brevo": {**_HTTP_OPTIONS, "sandbox": bool},
    "mailtrap": _MAILTRAP_OPTIONS,
    "mailtrap+sandbox": _MAILTRAP_OPTIONS,
    "memory": {"name": str},
    "console": {"name": str},
    "sandbox": {"name": str},
    "failover": {"name": str, "cooldown": float, **_RETRY_OPTIONS},
    "roundrobin": {"name": str, "weights": str, "cooldown": float, **_RETRY_OPTIONS},
}


def _coerce(key: str, raw: str, kind: OptionType, display: str) -> Any:
    try:
        if kind is bool:
            lowered = raw.lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(raw)
            return lowered in {"true", "1", "yes"}
        return kind(raw)
    except ValueError:
        raise ConfigurationError(f"{display}: {key}={raw!r} must be a {kind.__name__}") from None


#: How to write a reserved character that a credential holds.
_PERCENT = {"/": "%2F", "?": "%3F", "#": "%23"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def parse_url(url: str) -> UrlSpec:
    """Parse one (non-composed) configuration URL.

    The user part runs from ``://`` to the last ``@`` and is masked in every message
    (see :mod:`unisend._redact`); anything wrong is a :class:`ConfigurationError`.
    """
    display = redact_url(url, single=True)
    scheme_match = _SCHEME.match(url)
    if scheme_match is None:
        # Not echoed: a bare API key pasted where the URL goes must not be printed.
        raise ConfigurationError(
            "this is not a unisend URL; write it as scheme://..., e.g. smtp://host:587 or "
            "sendgrid://API_KEY@default"
        )
    if any(char.isspace() or not char.isprintable() for char in url):
        raise ConfigurationError(
            f"{display}: a URL holds no spaces or control characters; percent-encode them "
            "in a credential (a space is %20)"
        )
    scheme = scheme_match.group()[:-3].lower()
    span = next(userinfo_spans(url, single=True), None)
    userinfo = "" if span is None else url[span.start : span.end]
    location = url[scheme_match.end() if span is None else span.end + 1 :]
    reserved = [char for char in _PERCENT if char in userinfo]
    if reserved:
        chars = ", ".join(repr(char) for char in reserved)
        encoded = ", ".join(f"{char!r} as {_PERCENT[char]}" for char in reserved)
        raise ConfigurationError(
            f"{display}: the user part (before the last '@') holds {chars}, where a URL's "
            f"user part cannot: percent-encode it in a credential ({encoded}); an '@' in a "
            "path or query value is written %40"
        )
    # Only the location goes to urllib, so its errors (the __context__ below) hold no secret.
    try:
        parts = urlsplit(f"{scheme}://{location}")
    except ValueError:  # "Invalid IPv6 URL"
        raise ConfigurationError(
            f"{display}: the host is not valid: an IPv6 address is written in brackets, "
            f"e.g. {scheme}://[::1]:587"
        ) from None
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"{display}: the port must be a number from 0 to 65535") from None
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in query:
            raise ConfigurationError(f"{display}: query parameter {key!r} is given twice")
        query[key] = value
    username, _, password = userinfo.partition(":")
    return UrlSpec(
        scheme=scheme,
        username=unquote(username),
        password=unquote(password),
        host=parts.hostname or "",
        port=port,
        path=unquote(parts.path),
        query=query,
        display=display,
    )


def _load(target: str) -> Callable[..., Transport]:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    factory: Callable[..., Transport] = getattr(module, attr)
    return factory


def _outside_user_parts(text: str) -> Iterator[tuple[int, str]]:
    """``(index, char)`` for every character of ``text`` outside a URL's user part: a
    credential may hold ``(``, ``)`` or anything else that must not count as grammar."""
    skip = iter(userinfo_spans(text))
    span = next(skip, None)
    index = 0
    while index < len(text):
        if span is not None and index == span.start:
            index, span = span.end, next(skip, None)
            continue
        yield index, text[index]
        index += 1


def _closing_paren(text: str, opening: int, display: str) -> int:
    """Index of the ``)`` that closes the ``(`` at ``opening``."""
    depth = 0
    for index, char in _outside_user_parts(text):
        if index < opening:
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index
    raise ConfigurationError(f"{display}: missing ')'")


def _split_routes(inner: str, display: str) -> list[str]:
    """Split ``a b(c d) e`` on top-level whitespace."""
    routes: list[str] = []
    start: int | None = None
    depth = 0
    for index, char in [*_outside_user_parts(inner), (len(inner), " ")]:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise ConfigurationError(f"{display}: unbalanced parentheses: a ')' closes nothing")
        if char.isspace() and depth == 0:
            if start is not None:
                routes.append(inner[start:index])
                start = None
        elif start is None:
            start = index
    if not routes:
        raise ConfigurationError(f"{display}: a composition needs at least one URL inside (...)")
    return routes


def _not_a_string(url: object) -> str:
    """What to say when from_url() is given something other than a URL string."""
    if url is None:
        return (
            "from_url() needs a URL string, got None: is UNISEND_URL (or the setting the URL "
            "comes from) unset? Set it, or use Mailer.from_env(), which falls back to sandbox://"
        )
    if callable(getattr(url, "send", None)):
        return (
            f"from_url() needs a URL string, got a {type(url).__name__} object: pass a "
            "transport to Mailer(transport) directly"
        )
    return f"from_url() needs a URL string, got {type(url).__name__}"


def from_url(url: str) -> Transport:
    """Build a transport from a configuration URL (see the table in the docs).

    Raises :class:`~unisend.ConfigurationError` naming the problem, never the secret.
    """
    if not isinstance(url, str):
        raise ConfigurationError(_not_a_string(url))
    url = url.strip()
    if not url:
        raise ConfigurationError(
            "the URL is empty; write it as scheme://..., e.g. smtp://user:pass@host:587 or "
            "sendgrid://API_KEY@default"
        )
    display = redact_url(url)
    name, paren, _rest = url.partition("(")
    if paren and name.strip().lower() in COMPOSITIONS and "://" not in name:
        close = _closing_paren(url, len(name), display)
        inner, tail = url[len(name) + 1 : close], url[close + 1 :]
        if tail.startswith(")"):
            raise ConfigurationError(f"{display}: unbalanced parentheses: one ')' too many")
        if tail and not tail.startswith("?"):
            raise ConfigurationError(f"{display}: only '?query' may follow ')'")
        children = [from_url(child) for child in _split_routes(inner, display)]
        options = parse_url(f"{name.strip().lower()}://{tail}")
        options = UrlSpec(scheme=options.scheme, query=options.query, display=display)
        return COMPOSITIONS[name.strip().lower()](children, options)
    spec = parse_url(url)
    target = SCHEMES.get(spec.scheme)
    if target is None:
        known = ", ".join(sorted([*SCHEMES, *COMPOSITIONS]))
        raise ConfigurationError(
            f"unknown URL scheme {spec.scheme!r} in {display}; known schemes: {known}"
        )
    try:
        factory = _load(target)
    except ModuleNotFoundError as exc:
        if exc.name != target.partition(":")[0]:
            raise
        raise ConfigurationError(
            f"the {spec.scheme!r} transport is not available in this version of unisend"
        ) from None
    return factory(spec)


# -- composition: failover(URL URL ...)?cooldown=30, roundrobin(URL URL)?weights=3,1 ------


def _router_options(spec: UrlSpec, options: Mapping[str, Any]) -> dict[str, Any]:
    """cooldown and name as they are; the retry keys become the router's own RetryPolicy."""
    common: dict[str, Any] = {}
    if "cooldown" in options:
        common["cooldown"] = options["cooldown"]
    if options.get("name"):
        common["name"] = options["name"]
    retry = {key: options[key] for key in _RETRY_OPTIONS if key in options}
    if retry:
        from ._retry import RetryPolicy

        try:
            common["retry"] = RetryPolicy(**retry)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{spec.display}: {exc}") from None
    return common


def failover_from_spec(children: list[Transport], spec: UrlSpec) -> Transport:
    """``failover(URL URL ...)?cooldown=30&attempts=2&backoff=0.1&name=mail``"""
    from ._routing import Failover

    try:
        return Failover(children, **_router_options(spec, spec.options()))
    except ConfigurationError as exc:
        raise ConfigurationError(f"{spec.display}: {exc}") from None


def roundrobin_from_spec(children: list[Transport], spec: UrlSpec) -> Transport:
    """``roundrobin(URL URL ...)?weights=3,1&cooldown=30&attempts=2``"""
    from ._routing import RoundRobin

    options = spec.options()
    common = _router_options(spec, options)
    raw = options.get("weights", "")
    weights: list[int] | None = None
    if raw:
        try:
            weights = [int(part) for part in raw.split(",")]
        except ValueError:
            raise ConfigurationError(
                f"{spec.display}: weights={raw!r} must be whole numbers separated by commas, "
                "e.g. weights=3,1"
            ) from None
    try:
        return RoundRobin(children, weights=weights, **common)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{spec.display}: {exc}") from None


#: composition name -> factory(children, UrlSpec of the query after ``)``).
COMPOSITIONS: dict[str, Callable[[list[Transport], UrlSpec], Transport]] = {
    "failover": failover_from_spec,
    "roundrobin": roundrobin_from_spec,
}


__all__ = [
    "COMPOSITIONS",
    "OPTIONS",
    "SCHEMES",
    "UrlSpec",
    "failover_from_spec",
    "from_url",
    "parse_url",
    "roundrobin_from_spec",
]
