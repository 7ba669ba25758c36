"""What an httpx failure means, said without the secrets it carries.

An httpx exception holds the request it failed on, headers included: httpx masks only
``Authorization``, so Brevo's ``api-key`` and Postmark's ``X-Postmark-Server-Token``
would be in clear for any error tracker that serialises an exception chain. The HTTP
base therefore never chains the httpx exception itself: :func:`reason` puts the cause
into words ("connection refused", "the name ... does not resolve"), and :func:`standin`
gives a copy of the same class that holds only the redacted text, for ``__cause__``.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable, Iterator

import httpx

from .._redact import redact_text


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it was raised from, outermost first (aiohttp keeps the
    operating system's error in ``os_error``, a TLS one in ``certificate_error``)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]
        for name in ("os_error", "certificate_error"):
            inner = getattr(current, name, None)
            if isinstance(inner, BaseException):
                todo.append(inner)


def _first(chain: list[BaseException], kind: type[BaseException]) -> BaseException | None:
    """The innermost exception of ``kind`` in ``chain``."""
    found = [exc for exc in chain if isinstance(exc, kind)]
    return found[-1] if found else None


def reason(exc: httpx.HTTPError, host: str) -> str:
    """Why ``exc`` happened, in a few words a user can act on (no secrets: the words come
    from the operating system and the TLS library, never from the request)."""
    chain = list(_chain(exc))
    certificate = _first(chain, ssl.SSLCertVerificationError)
    if isinstance(certificate, ssl.SSLCertVerificationError):
        detail = certificate.verify_message or "certificate verify failed"
        return f"the TLS certificate of {host} is not trusted ({detail}; CERTIFICATE_VERIFY_FAILED)"
    tls = _first(chain, ssl.SSLError)
    if isinstance(tls, ssl.SSLError):
        return f"the TLS handshake with {host} failed ({tls.reason or tls})"
    unresolved = _first(chain, socket.gaierror)
    if isinstance(unresolved, socket.gaierror):
        return f"the name {host} does not resolve ({unresolved.strerror or unresolved})"
    if _first(chain, ConnectionRefusedError) is not None:
        return "connection refused"
    if _first(chain, ConnectionResetError) is not None:
        return "the connection was reset"
    if any(isinstance(e, (TimeoutError, httpx.TimeoutException)) for e in chain):
        return "timed out"
    system = _first(chain, OSError)
    if isinstance(system, OSError) and system.strerror:
        return system.strerror[:1].lower() + system.strerror[1:]
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def standin(exc: BaseException, secrets: Iterable[str]) -> BaseException | None:
    """A fresh exception of ``exc``'s class (an httpx request error) with only its
    redacted text: no request, no headers, no chain, no traceback. None for anything
    else, which is then not chained at all."""
    if not isinstance(exc, httpx.RequestError):
        return None
    try:
        return type(exc)(redact_text(str(exc), secrets))
    except TypeError:  # a subclass with another constructor
        return None


__all__ = ["reason", "standin"]
