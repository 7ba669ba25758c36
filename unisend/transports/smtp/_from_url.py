"""``smtp://`` and ``smtps://`` URLs -> :class:`SMTPTransport` (the factory ``_url.SCHEMES``
names)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..._dkim import DKIM
from ..._errors import ConfigurationError
from ._transport import SMTPTransport

if TYPE_CHECKING:
    from ..._url import UrlSpec


def from_spec(spec: UrlSpec) -> SMTPTransport:
    """``smtp://user:pass@host:587``, ``smtps://user:pass@host:465``,
    ``smtp://host:25?security=none``; other query parameters map onto keywords."""
    host = spec.require("a host (smtp://host:port)", spec.host)
    kwargs = spec.kwargs_for(
        SMTPTransport,
        skip=("host", "port", "username", "password", "ssl_context", "dkim", *_DKIM_QUERY),
    )
    if spec.scheme == "smtps" and kwargs.setdefault("security", "ssl") != "ssl":
        raise ConfigurationError(f"{spec.display}: smtps:// always uses security=ssl")
    security = kwargs.get("security", "starttls")
    port = spec.port or (465 if security == "ssl" else 587)
    dkim = _dkim_from_spec(spec)
    transport = SMTPTransport(
        host,
        port,
        username=spec.username or None,
        password=spec.password or None,
        dkim=dkim,
        **kwargs,
    )
    transport._replies.url_syntax = True  # hints in URL syntax: ?security=none
    return transport


_DKIM_QUERY = ("dkim_domain", "dkim_selector", "dkim_key_file", "dkim_algorithm")


def _dkim_from_spec(spec: UrlSpec) -> DKIM | None:
    """``?dkim_domain=&dkim_selector=&dkim_key_file=`` (and ``dkim_algorithm=``)."""
    given = {key: spec.query[key] for key in _DKIM_QUERY if key in spec.query}
    if not given:
        return None
    missing = [key for key in _DKIM_QUERY[:3] if not given.get(key)]
    if missing:
        raise ConfigurationError(
            f"{spec.display}: DKIM signing needs dkim_domain, dkim_selector and "
            f"dkim_key_file; missing {', '.join(missing)}"
        )
    return DKIM(
        given["dkim_domain"],
        given["dkim_selector"],
        Path(given["dkim_key_file"]),
        algorithm=given.get("dkim_algorithm", "rsa-sha256"),
    )


__all__ = ["from_spec"]
