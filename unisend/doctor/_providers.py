"""What the doctor knows about each HTTP provider: its read-only key check, the SPF
include and DKIM selectors it asks customers to publish, and its SMTP relay hosts (so
an ``smtp://`` route through a provider gets the same DNS advice).

Sources: the provider docs summarised in ``docs/troubleshooting.md``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """One provider's facts."""

    name: str
    #: Any one of these SPF includes authorises the provider.
    spf_includes: tuple[str, ...]
    #: DKIM selectors the provider uses (empty: not guessable).
    dkim_selectors: tuple[str, ...]
    #: Path of the read-only call that proves the key works, under the API base URL.
    key_path: str
    #: SMTP relay host names of the provider.
    smtp_hosts: tuple[str, ...] = ()
    #: Base URL of the key check when the transport uses its default host(s).
    key_base_url: str | None = None


PROVIDERS: dict[str, Provider] = {
    "sendgrid": Provider(
        "sendgrid", ("sendgrid.net",), ("s1", "s2"), "/v3/scopes", ("smtp.sendgrid.net",)
    ),
    "postmark": Provider("postmark", ("spf.mtasv.net",), (), "/server", ("smtp.postmarkapp.com",)),
    "mailjet": Provider(
        "mailjet", ("spf.mailjet.com",), ("mailjet",), "/v3/REST/apikey", ("in-v3.mailjet.com",)
    ),
    "brevo": Provider(
        "brevo",
        ("spf.brevo.com", "spf.sendinblue.com"),
        ("brevo1", "brevo2"),
        "/v3/account",
        ("smtp-relay.brevo.com", "smtp-relay.sendinblue.com"),
    ),
    "mailtrap": Provider(
        "mailtrap",
        ("_spf.smtp.mailtrap.live",),
        ("rwmt1", "rwmt2"),
        "/api/accounts",
        ("live.smtp.mailtrap.io", "bulk.smtp.mailtrap.io"),
        # The account API lives on mailtrap.io, not on the sending hosts.
        key_base_url="https://mailtrap.io",
    ),
}

#: URL scheme -> provider name.
SCHEME_PROVIDERS = {
    "sendgrid": "sendgrid",
    "postmark": "postmark",
    "mailjet": "mailjet",
    "brevo": "brevo",
    "mailtrap": "mailtrap",
    "mailtrap+sandbox": "mailtrap",
}


def provider_for_smtp_host(host: str) -> Provider | None:
    """The provider whose SMTP relay ``host`` is, if any."""
    host = host.lower().rstrip(".")
    for provider in PROVIDERS.values():
        if host in provider.smtp_hosts:
            return provider
    return None


__all__ = ["PROVIDERS", "SCHEME_PROVIDERS", "Provider", "provider_for_smtp_host"]
