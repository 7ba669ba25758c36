"""Framework adapters: :mod:`unisend.contrib.django`, :mod:`unisend.contrib.flask` and
:mod:`unisend.contrib.celery`.

Each adapter is an optional extra: importing this package pulls in no framework. The
helpers below are what the adapters share: reading a ``RETRY`` mapping, finding the URL,
and building the one :class:`~unisend.Mailer` an adapter sends through.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError

if TYPE_CHECKING:
    from .._mailer import Mailer
    from .._retry import RetryPolicy

#: The RetryPolicy fields a ``RETRY`` mapping may set (the injectable clocks are not settings).
RETRY_KEYS = ("attempts", "backoff", "max_backoff", "max_retry_after", "jitter")


def retry_from_config(value: object, where: str) -> RetryPolicy | None:
    """Turn a ``RETRY`` setting into a :class:`~unisend.RetryPolicy`.

    ``value`` may be None (use the default policy), a RetryPolicy, or a mapping of its
    fields; keys are case-blind (``{"ATTEMPTS": 1}`` and ``{"attempts": 1}`` are one).
    ``where`` names the setting in error messages.
    """
    from .._retry import RetryPolicy

    if value is None or isinstance(value, RetryPolicy):
        return value
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"{where} must be a dict of RetryPolicy fields ({', '.join(RETRY_KEYS)}), "
            f"got {type(value).__name__}"
        )
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        name = str(key).lower()
        if name not in RETRY_KEYS:
            raise ConfigurationError(
                f"{where} has an unknown key {key!r}; allowed: {', '.join(RETRY_KEYS)}"
            )
        kwargs[name] = item
    defaults = {f.name: f.default for f in dataclasses.fields(RetryPolicy)}
    for name, item in kwargs.items():
        expected = type(defaults[name])
        ok = (
            isinstance(item, bool)
            if expected is bool
            else (isinstance(item, (int, float)) and not isinstance(item, bool))
        )
        if not ok:
            raise ConfigurationError(
                f"{where}[{name!r}] must be {'a bool' if expected is bool else 'a number'}, "
                f"got {item!r}"
            )
    return RetryPolicy(**kwargs)


def resolve_url(url: object, where: str) -> str:
    """The URL from a setting, else the ``UNISEND_URL`` environment variable.

    Raises :class:`~unisend.ConfigurationError` when neither is set, so a misconfigured
    app fails loudly instead of silently dropping mail.
    """
    if url is None or url == "":
        url = os.environ.get("UNISEND_URL", "")
        if not url:
            raise ConfigurationError(
                f"no unisend URL: set {where} (e.g. 'smtp://user:pass@smtp.example.com:587') "
                "or the UNISEND_URL environment variable"
            )
    if not isinstance(url, str):
        raise ConfigurationError(f"{where} must be a URL string, got {type(url).__name__}")
    return url


def build_mailer(
    url: str,
    *,
    default_sender: object = None,
    retry: RetryPolicy | None = None,
    spool: object = None,
) -> Mailer:
    """A :class:`~unisend.Mailer` over ``url``; a bad URL or default sender is a
    :class:`~unisend.ConfigurationError`. ``spool`` (a location; default the
    ``UNISEND_SPOOL`` environment variable) makes it queue what no route accepts now."""
    from .._errors import InvalidMessage
    from .._mailer import Mailer
    from .._message import Address
    from .._url import from_url

    if default_sender is not None and not isinstance(default_sender, (str, Address)):
        raise ConfigurationError(
            f"the default sender must be an address string, got {type(default_sender).__name__}"
        )
    try:
        sender = None if not default_sender else Address.parse(default_sender, "default sender")
    except InvalidMessage as exc:
        raise ConfigurationError(str(exc)) from None
    if spool is None or spool == "":
        spool = os.environ.get("UNISEND_SPOOL") or None
    if spool is not None and not isinstance(spool, (str, os.PathLike)):
        raise ConfigurationError(
            "the spool setting must be a file path or postgresql:// URL, "
            f"got {type(spool).__name__}"
        )
    return Mailer(from_url(url), default_sender=sender, retry=retry, spool=spool)


__all__ = ["RETRY_KEYS", "build_mailer", "resolve_url", "retry_from_config"]
