"""The error tree of unisend.

::

    UnisendError
    ├── InvalidMessage        (also ValueError) bad input, caught before any I/O
    ├── ConfigurationError    bad URL / options
    └── SendError             a transport tried: .transport .status_code .provider_code
        ├── TransientError    network error, timeout, 5xx, SMTP 4xx: retry, then fail over
        │   └── RateLimited   429 / SMTP 421-452 throttling; .retry_after seconds
        ├── ProviderError     this route cannot send now: no retry, fail over
        │   └── AuthenticationError
        ├── MessageRejected   the message itself is refused: no retry, no failover
        └── AllRoutesFailed   every route was tried; .errors lists each attempt's error

The rule of thumb: retry what may succeed on the same route later, fail over what may
succeed on another route, and raise at once what will fail everywhere.

What to do about each class: ``docs/troubleshooting.md``; ``unisend doctor`` finds most
causes of ``TransientError`` and ``AuthenticationError`` before a send.

Messages never contain credentials: transports build them from status codes and the
provider's error text, and ``unisend._redact`` scrubs anything that looks like a secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._result import Attempt


class _SendErrorFields(TypedDict, total=False):
    transport: str
    status_code: int | None
    provider_code: str | None
    ambiguous: bool


class UnisendError(Exception):
    """Base class of every error unisend raises."""


class InvalidMessage(UnisendError, ValueError):
    """The message (or one of its fields) is invalid; raised before any I/O."""


class ConfigurationError(UnisendError):
    """A URL, option or credential is missing or malformed."""


class SendError(UnisendError):
    """A transport tried to send and failed."""

    #: Whether trying the same route again later may succeed.
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        transport: str = "",
        status_code: int | None = None,
        provider_code: str | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message)
        self.transport = transport
        self.status_code = status_code
        self.provider_code = provider_code
        #: True when the provider may have accepted the message despite the error
        #: (e.g. a read timeout after the request body was sent).
        self.ambiguous = ambiguous

    @property
    def message(self) -> str:
        """The human-readable text of the error."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        parts = [self.message]
        detail = []
        if self.transport:
            detail.append(f"transport={self.transport}")
        if self.status_code is not None:
            detail.append(f"status={self.status_code}")
        if self.provider_code is not None:
            detail.append(f"code={self.provider_code}")
        if detail:
            parts.append(f"[{', '.join(detail)}]")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, transport={self.transport!r})"


class TransientError(SendError):
    """A failure that may go away: network error, timeout, 5xx, SMTP 4xx."""

    retryable = True


class RateLimited(TransientError):
    """The provider throttled the request (HTTP 429, SMTP 421/450-452 throttling)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, **kw: Unpack[_SendErrorFields]
    ) -> None:
        super().__init__(message, **kw)
        #: Seconds the provider asked us to wait, when it said.
        self.retry_after = retry_after


class ProviderError(SendError):
    """This route cannot send now (suspended, quota, unverified sender): fail over."""


class AuthenticationError(ProviderError):
    """The provider refused the credentials."""


class MessageRejected(SendError):
    """The message itself is refused and would be refused by any route."""

    def __init__(
        self,
        message: str,
        *,
        rejected: Mapping[str, str] | None = None,
        **kw: Unpack[_SendErrorFields],
    ) -> None:
        super().__init__(message, **kw)
        #: Recipient address -> the reason it was refused.
        self.rejected: dict[str, str] = dict(rejected or {})


class AllRoutesFailed(SendError):
    """Every route was tried and none accepted the message."""

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[SendError],
        attempts: Sequence[Attempt] = (),
        **kw: Unpack[_SendErrorFields],
    ) -> None:
        super().__init__(message, **kw)
        #: Each attempt's error, in the order the attempts were made.
        self.errors: list[SendError] = list(errors)
        #: Every try in order (route, error, elapsed, ambiguous), when a router made them.
        self.attempts: tuple[Attempt, ...] = tuple(attempts)
        self.ambiguous = any(e.ambiguous for e in self.errors)


__all__ = [
    "AllRoutesFailed",
    "AuthenticationError",
    "ConfigurationError",
    "InvalidMessage",
    "MessageRejected",
    "ProviderError",
    "RateLimited",
    "SendError",
    "TransientError",
    "UnisendError",
]
