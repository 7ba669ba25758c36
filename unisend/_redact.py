"""The one place that masks secrets: URLs, headers and free text.

Everything that may end up in a ``repr``, a log line or an exception message goes
through here first.

The user part of a configuration URL runs from ``://`` to the *last* ``@`` of that URL,
whatever it holds: credentials are often pasted unencoded (AWS SES SMTP passwords and
base64 keys carry ``/`` and ``+``), so ``/ ? # ( )`` cannot be trusted to end it.
:func:`userinfo_spans` finds those parts once, for masking and for parsing alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

MASK = "***"

# Header names that always carry a credential, whatever the provider declares.
ALWAYS_SECRET = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

#: Schemes whose user part is ``NAME:PASSWORD``: the name is an account, not a secret.
USER_IS_NAME = frozenset({"smtp", "smtps"})
#: Schemes that carry no credentials: their user part (to be refused) ends where the
#: URL's authority does, at the first ``/ ? #``; an ``@`` after that belongs to the path.
NO_USER_PART = frozenset({"memory", "console", "sandbox"})

_PATH_START = re.compile(r"[/?#]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# A word and "(" just before a URL: a composition such as failover( or roundrobin(.
_OPENER = re.compile(r"(?:^|[\s(])[A-Za-z][A-Za-z0-9_-]*\($")


@dataclass(frozen=True)
class UserInfo:
    """Where one URL's user part sits in a text: ``text[start:end]``, before its ``@``."""

    scheme: str
    start: int
    end: int

    def secrets(self, text: str) -> list[str]:
        """The secret values of this user part, as written (not decoded): the password
        of an SMTP URL, the whole user part and each piece of it anywhere else."""
        userinfo = text[self.start : self.end]
        user, sep, password = userinfo.partition(":")
        if self.scheme in USER_IS_NAME:
            return [password] if sep else []
        return [userinfo, user, password] if sep else [userinfo]


def _starts_url(text: str, index: int) -> bool:
    """Whether a ``scheme://`` at ``index`` begins a URL of its own: at the start, after
    whitespace, or just inside a composition's ``name(``. Anywhere else it is part of
    the previous URL (a secret may well hold ``x://``)."""
    if index == 0 or text[index - 1].isspace():
        return True
    # A composition's name is short: look a little way back only (linear on long texts).
    return bool(_OPENER.search(text, max(0, index - 64), index))


def userinfo_spans(text: str, *, single: bool = False) -> Iterator[UserInfo]:
    """The user part of every URL in ``text`` (a URL, or a composition of URLs).

    A URL runs up to the next URL that begins on its own (see :func:`_starts_url`); its
    user part ends at the last ``@`` before that. So ``smtp://u:a/b@c@host`` has the user
    part ``u:a/b@c``, and each route of ``failover(A B)`` is read on its own. With
    ``single=True`` the whole of ``text`` is one URL (its user part, if any, runs from
    the first ``://`` to the last ``@``).
    """
    starts = [m for m in _SCHEME.finditer(text) if _starts_url(text, m.start())]
    if single:
        starts = starts[:1] if starts and starts[0].start() == 0 else []
    for index, match in enumerate(starts):
        scheme = match.group()[:-3].lower()
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        if scheme in NO_USER_PART:
            path = _PATH_START.search(text, match.end(), end)
            end = path.start() if path else end
        at = text.rfind("@", match.end(), end)
        if at >= 0:
            yield UserInfo(scheme, match.end(), at)


def _masked(scheme: str, userinfo: str) -> str:
    user, sep, _password = userinfo.partition(":")
    if scheme in USER_IS_NAME:
        # An SMTP user name is an account name; in provider URLs the user part is a key.
        return f"{user}:{MASK}" if sep else user
    return MASK


def redact_url(url: str, *, single: bool = False) -> str:
    """``smtp://user:pass@host`` -> ``smtp://user:***@host``; in any other scheme the
    whole user part is a credential (``mailjet://KEY:SECRET@`` -> ``mailjet://***@``).

    ``url`` is a configuration URL or a composition of them (``single=True``: exactly one
    URL); every user part is masked (see :func:`userinfo_spans`), and so are
    secret-looking query parameters.
    """
    pieces: list[str] = []
    last = 0
    for span in userinfo_spans(url, single=single):
        pieces += [url[last : span.start], _masked(span.scheme, url[span.start : span.end])]
        last = span.end
    pieces.append(url[last:])
    return _SECRET_QUERY.sub(lambda m: f"{m.group('key')}{MASK}", "".join(pieces))


def url_secrets(*urls: str | None) -> list[str]:
    """Every secret value the configuration ``urls`` carry (SMTP passwords, API keys),
    as written, percent-decoded and percent-encoded, longest first: what
    :func:`redact_secrets` must mask in any text derived from them."""
    found: set[str] = set()
    for url in urls:
        for span in userinfo_spans(url or ""):
            for secret in span.secrets(url or ""):
                found |= {secret, unquote(secret), quote(unquote(secret), safe="")}
    return sorted((s for s in found if s), key=len, reverse=True)


_SECRET_QUERY = re.compile(
    r"(?P<key>[?&](?:api_key|apikey|key|secret|secret_key|token|server_token|password|pass)=)"
    r"(?P<value>[^&\s)]*)",
    re.IGNORECASE,
)

#: Shorter secrets are not replaced in free text: they would mangle ordinary words.
MIN_SECRET_CHARS = 4


def redact_headers(headers: Mapping[str, str], secret_names: Iterable[str] = ()) -> dict[str, str]:
    """A copy of ``headers`` with every secret header's value masked."""
    secret = ALWAYS_SECRET | {name.lower() for name in secret_names}
    return {k: (MASK if k.lower() in secret else v) for k, v in headers.items()}


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each known secret value in ``text`` (longest first);
    nothing else changes, so hints such as ``sendgrid://KEY@default`` survive."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, MASK)
    return text


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Free text from outside (a provider's error body, a server's reply): replace the
    known ``secrets``, then mask the user part of any URL-looking word in it."""
    text = redact_secrets(text, secrets)
    return re.sub(r"\S+", lambda word: redact_url(word.group()), text) if "://" in text else text


__all__ = [
    "MASK",
    "NO_USER_PART",
    "USER_IS_NAME",
    "UserInfo",
    "redact_headers",
    "redact_secrets",
    "redact_text",
    "redact_url",
    "url_secrets",
    "userinfo_spans",
]
