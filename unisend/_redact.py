"""The one place that masks secrets: URLs, headers and free text.

Everything that may end up in a ``repr``, a log line or an exception message goes
through here first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"

# Header names that always carry a credential, whatever the provider declares.
ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^@/\s()]*)@")


def redact_url(url: str) -> str:
    """``smtp://user:pass@host`` -> ``smtp://user:***@host``; a bare token is masked whole."""

    def mask(match: re.Match[str]) -> str:
        user, sep, _password = match.group("userinfo").partition(":")
        shown = f"{user}:{MASK}" if sep else MASK
        return f"{match.group('scheme')}{shown}@"

    return _USERINFO.sub(mask, url)


def redact_headers(headers: Mapping[str, str], secret_names: Iterable[str] = ()) -> dict[str, str]:
    """A copy of ``headers`` with every secret header's value masked."""
    secret = ALWAYS_SECRET | {name.lower() for name in secret_names}
    return {k: (MASK if k.lower() in secret else v) for k, v in headers.items()}


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each (non-trivial) secret in ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return redact_url(text)


__all__ = ["MASK", "redact_headers", "redact_text", "redact_url"]
