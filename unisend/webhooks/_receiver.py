"""``parse_events`` and the :class:`Receiver` behind it (and behind the Django and Flask
views): check the credentials once, then verify and parse each request.

Which proof each provider can give (``../shared/webhooks.md`` §1):

========  ==========================================================
sendgrid  ``verification_key`` (Signed Event Webhook), ``basic_auth``
postmark  ``basic_auth`` (no signature)
mailjet   ``basic_auth`` (no signature)
brevo     ``basic_auth`` or ``token`` (bearer; no signature)
mailtrap  ``signing_secret`` (``Mailtrap-Signature``), ``basic_auth``
========  ==========================================================
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from .._errors import ConfigurationError
from ._decode import check_size
from ._verify import (
    BasicAuth,
    BearerToken,
    Check,
    MailtrapSignature,
    SendGridSignature,
    credential_list,
)

if TYPE_CHECKING:
    from ._model import DeliveryEvent

    Parser = Callable[[bytes, Mapping[str, str]], list[DeliveryEvent]]

Credential = str | Sequence[str] | None


class Headers(Protocol):
    """Anything with ``items()`` of (name, value): a dict, Django's ``request.headers``,
    Werkzeug's ``Headers``."""

    def items(self) -> Iterable[tuple[str, str]]: ...


#: Provider name -> the auth keywords that apply to it.
APPLIES: dict[str, tuple[str, ...]] = {
    "sendgrid": ("verification_key", "basic_auth"),
    "postmark": ("basic_auth",),
    "mailjet": ("basic_auth",),
    "brevo": ("basic_auth", "token"),
    "mailtrap": ("signing_secret", "basic_auth"),
}

_CHECKS: dict[str, Callable[[tuple[str, ...]], Check]] = {
    "basic_auth": BasicAuth,
    "token": BearerToken,
    "signing_secret": MailtrapSignature,
    "verification_key": SendGridSignature,
}


class Receiver:
    """The webhook endpoint of one provider: credentials checked at construction
    (:class:`~unisend.ConfigurationError`), then :meth:`parse` per request."""

    def __init__(
        self,
        provider: str,
        *,
        basic_auth: Credential = None,
        verification_key: Credential = None,
        signing_secret: Credential = None,
        token: Credential = None,
        insecure: bool = False,
    ) -> None:
        name = provider.lower() if isinstance(provider, str) else provider
        if name not in APPLIES:
            raise ConfigurationError(
                f"unknown webhook provider {provider!r}; use one of {', '.join(sorted(APPLIES))}"
            )
        if not isinstance(insecure, bool):
            raise ConfigurationError("insecure must be True or False")
        given = {
            keyword: credential_list(keyword, value)
            for keyword, value in (
                ("basic_auth", basic_auth),
                ("verification_key", verification_key),
                ("signing_secret", signing_secret),
                ("token", token),
            )
            if value is not None
        }
        applies = APPLIES[name]
        for keyword in given:
            if keyword not in applies:
                raise ConfigurationError(
                    f"{keyword} does not apply to {name} webhooks; {name} can be verified "
                    f"with {' or '.join(applies)}"
                )
        given = {keyword: values for keyword, values in given.items() if values}
        if "basic_auth" in given and "token" in given:
            raise ConfigurationError(
                "give basic_auth or token, not both: Brevo sends one Authorization header"
            )
        if not given and not insecure:
            raise ConfigurationError(
                f"no credential to verify {name} webhooks: pass {' or '.join(applies)} "
                "(or insecure=True to accept unverified requests, e.g. behind an IP allow-list)"
            )
        self.provider: str = name
        self.insecure = insecure and not given
        self._checks = tuple(_CHECKS[keyword](values) for keyword, values in given.items())
        module = importlib.import_module(f"unisend.webhooks.{name}")
        self._parse: Parser = module.parse

    @property
    def challenge(self) -> str | None:
        """The ``WWW-Authenticate`` value for a 401 answer (None for signatures)."""
        for check in self._checks:
            challenge: str | None = getattr(check, "challenge", None)
            if challenge:
                return challenge
        return None

    def parse(self, body: bytes, headers: Headers) -> list[DeliveryEvent]:
        """Verify the request, then parse its events (see :func:`parse_events`)."""
        if isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        elif not isinstance(body, bytes):
            raise TypeError(
                f"body must be the raw request bytes, not {type(body).__name__} "
                "(signatures cover the exact bytes received)"
            )
        check_size(body)
        lowered = {str(key).lower(): value for key, value in headers.items()}
        for check in self._checks:
            check.verify(body, lowered)
        return self._parse(body, lowered)

    def __repr__(self) -> str:
        kinds = ", ".join(type(check).__name__ for check in self._checks) or "insecure"
        return f"<Receiver {self.provider} ({kinds})>"


def parse_events(
    provider: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    basic_auth: Credential = None,
    verification_key: Credential = None,
    signing_secret: Credential = None,
    token: Credential = None,
    insecure: bool = False,
) -> list[DeliveryEvent]:
    """Verify one webhook request of ``provider``, then parse it into events.

    ``provider`` is ``"sendgrid"``, ``"postmark"``, ``"mailjet"``, ``"brevo"`` or
    ``"mailtrap"``; ``body`` the raw request bytes; ``headers`` the request headers (names
    in any case). Credentials: ``basic_auth="user:pass"`` (all five; a list for
    rotation, as every credential), ``verification_key`` (SendGrid's public
    key), ``signing_secret`` (Mailtrap), ``token`` (Brevo's bearer token). With none that
    applies, :class:`~unisend.ConfigurationError` unless ``insecure=True``.

    Raises :class:`WebhookAuthError` (answer 401) when verification fails and
    :class:`WebhookError` (answer 400) for a malformed body. Events come in the order of
    the body; an event name the parser does not know is ``EventType.unknown``.
    """
    receiver = Receiver(
        provider,
        basic_auth=basic_auth,
        verification_key=verification_key,
        signing_secret=signing_secret,
        token=token,
        insecure=insecure,
    )
    return receiver.parse(body, headers)
