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

_USER_IS_NAME = frozenset({"smtp://", "smtps://"})
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^@/\s()]*)@")


def redact_url(url: str) -> str:
    """``smtp://user:pass@host`` -> ``smtp://user:***@host``; in any other scheme the
    whole user part is a credential (``mailjet://KEY:SECRET@`` -> ``mailjet://***@``)."""

    def mask(match: re.Match[str]) -> str:
        scheme = match.group("scheme")
        user, sep, _password = match.group("userinfo").partition(":")
        # An SMTP user name is an account name; in provider URLs the user part is a key.
        keep_user = sep and scheme.lower() in _USER_IS_NAME
        shown = f"{user}:{MASK}" if keep_user else MASK
        return f"{scheme}{shown}@"

    url = _USERINFO.sub(mask, url)
    return _SECRET_QUERY.sub(lambda m: f"{m.group('key')}{MASK}", url)


_SECRET_QUERY = re.compile(
    r"(?P<key>[?&](?:api_key|apikey|key|secret|secret_key|token|server_token|password|pass)=)"
    r"(?P<value>[^&\s)]*)",
    re.IGNORECASE,
)


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
