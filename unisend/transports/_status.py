"""The one HTTP status -> error table (DESIGN.md "HTTP classification").

Every HTTP transport and :class:`~unisend.transports.ScriptedTransport` classify a status
here, so they cannot drift apart:

=================  ===========================================================
429                :class:`~unisend.RateLimited` (``retry_after`` from the answer)
5xx, 408           :class:`~unisend.TransientError` (a request timeout is transient)
401                :class:`~unisend.AuthenticationError`
400, 413, 422      :class:`~unisend.MessageRejected`
any other status   :class:`~unisend.ProviderError` (403 suspended, quota, ...)
=================  ===========================================================

Providers refine the class by their own error code where the status says too little
(Postmark answers 422 for a bad token). :func:`parse_retry_after` reads ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from datetime import timezone

from .._errors import (
    AuthenticationError,
    MessageRejected,
    ProviderError,
    RateLimited,
    SendError,
    TransientError,
)

#: Statuses that say the message itself is refused: no retry, no failover.
REJECTED_STATUSES = frozenset({400, 413, 422})


def error_class(status: int) -> type[SendError]:
    """The error class for a non-2xx HTTP ``status`` (see the table above)."""
    if status == 429:
        return RateLimited
    if status >= 500 or status == 408:
        return TransientError
    if status == 401:
        return AuthenticationError
    if status in REJECTED_STATUSES:
        return MessageRejected
    return ProviderError


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` value, or None when it says nothing usable.

    Accepts delay-seconds (``"120"``; a decimal such as ``"1.5"`` is tolerated) and an
    HTTP date (``"Wed, 21 Oct 2015 07:28:00 GMT"``), which is compared with ``now``
    (seconds since the epoch, default :func:`time.time`); a date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
            return None
        return seconds
    from email.utils import parsedate_to_datetime  # 10 ms to import; HTTP dates are rare

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # some Python versions return None instead of raising
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    reference = time.time() if now is None else now
    return max(0.0, when.timestamp() - reference)


__all__ = ["REJECTED_STATUSES", "error_class", "parse_retry_after"]
