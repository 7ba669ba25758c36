"""Configuration URLs: parsing, composition and the scheme registry.

``from_url("smtp://user:pass@host:587")`` looks the scheme up in :data:`SCHEMES` and
imports the provider's module only then, so ``import unisend`` stays light. Query
parameters map onto the constructor keyword of the same name, typed from its default.
"""

from __future__ import annotations

import importlib
import inspect
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

#: composition name -> "module:factory"; each factory takes (children, UrlSpec of the query).
COMPOSITIONS: dict[str, str] = {
    "failover": "unisend._routing:failover_from_spec",
    "roundrobin": "unisend._routing:roundrobin_from_spec",
}


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

    def kwargs_for(
        self, factory: Callable[..., Any], *, skip: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Map query parameters onto ``factory``'s keyword arguments, typed by their defaults."""
        params = _parameters(factory)
        kwargs: dict[str, Any] = {}
        for key, raw in self.query.items():
            if key in CREDENTIAL_KEYWORDS:
                raise ConfigurationError(
                    f"{self.display}: put the credential in the URL's user part "
                    f"(scheme://USER:SECRET@host or scheme://KEY@default), not in ?{key}="
                )
            if key in skip:
                continue
            param = params.get(key)
            if param is None or not _url_settable(param):
                known = sorted(
                    p
                    for p in params
                    if p not in skip and p not in CREDENTIAL_KEYWORDS and _url_settable(params[p])
                )
                raise ConfigurationError(
                    f"{self.display}: unknown query parameter {key!r}; "
                    f"this scheme takes {', '.join(known) or 'none'}"
                )
            kwargs[key] = _coerce(key, raw, param.default, self.display)
        return kwargs


def _parameters(factory: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    """``factory``'s parameters. A class whose constructor passes ``**options`` on to its
    base's (``**options: Unpack[HttpOptions]``) also takes the keywords that one names,
    typed by the defaults there."""
    params = dict(inspect.signature(factory).parameters)
    bases = getattr(factory, "__mro__", ())[1:-1]  # a class's bases, without object
    constructors = [vars(base)["__init__"] for base in bases if "__init__" in vars(base)]
    passes_on = _takes_var_keyword(params.values())
    for init in constructors:
        if not passes_on:
            break
        inherited = list(inspect.signature(init).parameters.values())[1:]  # without self
        for param in inherited:
            params.setdefault(param.name, param)
        passes_on = _takes_var_keyword(inherited)
    return params


def _takes_var_keyword(params: Iterable[inspect.Parameter]) -> bool:
    return any(param.kind is inspect.Parameter.VAR_KEYWORD for param in params)


def _url_settable(param: inspect.Parameter) -> bool:
    """Keyword parameters of a scalar type (bool, int, float, str) can come from a URL;
    objects such as ``client=`` or ``ssl_context=`` cannot."""
    if param.kind not in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
        return False
    if isinstance(param.default, (bool, int, float, str)):
        return True
    members = {part.strip() for part in str(param.annotation).split("|")}
    return param.default is None and members <= {"str", "int", "float", "bool", "None"}


def _coerce(key: str, raw: str, default: Any, display: str) -> Any:
    try:
        if isinstance(default, bool):
            lowered = raw.lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(raw)
            return lowered in {"true", "1", "yes"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        expected = type(default).__name__
        raise ConfigurationError(f"{display}: {key}={raw!r} must be a {expected}") from None
    return raw


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
        return _load(COMPOSITIONS[name.strip().lower()])(children, options)
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


__all__ = ["COMPOSITIONS", "SCHEMES", "UrlSpec", "from_url", "parse_url"]
