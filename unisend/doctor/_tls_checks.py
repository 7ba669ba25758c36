"""The ``tls`` and ``certificate`` checks of one TLS handshake, and what its errors mean."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

from ._results import Results

#: Certificates that expire sooner than this many days get a warning.
EXPIRY_WARN_DAYS = 14

# OpenSSL verify codes (X509_V_ERR_*).
_EXPIRED, _NOT_YET_VALID = 10, 9
_UNTRUSTED = {18, 19, 20, 21, 2, 27}
_NAME_MISMATCH = {62, 64}

# OpenSSL reasons for reading a non-TLS answer as a TLS record.
_PLAINTEXT_REASONS = {
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "UNKNOWN_PROTOCOL",
    "HTTP_REQUEST",
}
_VERSION_REASONS = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
    "VERSION_TOO_HIGH",
    "WRONG_SSL_VERSION",
}


def certificate_failure(
    out: Results, exc: ssl.SSLCertVerificationError, host: str, ca_file: str | None
) -> None:
    """Record the ``certificate`` fail for a refused certificate (and ``tls`` as not
    judged: the handshake stopped there)."""
    code = exc.verify_code
    reason = exc.verify_message or str(exc)
    trust = f"the CA in ca_file={ca_file}" if ca_file else "the system trust store"
    if code == _EXPIRED:
        summary = f"the certificate of {host} has expired ({reason})"
        fix = f"the server's certificate for {host} has expired: the server's admin must renew it"
    elif code == _NOT_YET_VALID:
        summary = f"the certificate of {host} is not valid yet ({reason})"
        fix = "check this machine's clock; otherwise the server's admin must fix the certificate"
    elif code in _NAME_MISMATCH:
        summary = f"the certificate is not for {host} ({reason})"
        fix = (
            f"use the host name the certificate names (the provider's documented SMTP host) "
            f"instead of {host}, or ask the admin for a certificate that covers {host}"
        )
    elif code in _UNTRUSTED:
        summary = f"the certificate of {host} is not trusted by {trust} ({reason})"
        fix = (
            "if the server uses a private CA, point ca_file= at its PEM bundle "
            "(?ca_file=/path/ca.pem); never turn verification off in production"
        )
    else:
        summary = f"the certificate of {host} was refused ({reason})"
        fix = "ask the server's admin to fix the certificate, or set ca_file= for a private CA"
    out.add("certificate", "fail", summary, fix, verify_code=code, verify_message=reason)
    out.add("tls", "skip", "handshake stopped at the certificate (see certificate)")


def handshake_failure(
    out: Results,
    exc: BaseException,
    *,
    host: str,
    port: int,
    implicit: bool,
    min_tls: str,
    only_tls12: bool = False,
) -> None:
    """Record the ``tls`` fail for a handshake that broke off (not over the certificate);
    ``only_tls12``: a probe found the server completes a TLS 1.2 handshake."""
    reason = getattr(exc, "reason", None) or ""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):  # distinct classes on 3.10
        summary = "the TLS handshake got no answer in time"
        fix = (
            f"port {port} does not seem to speak TLS right away: use smtp://{host}:{port} "
            "(STARTTLS) if it is a submission port such as 587"
            if implicit
            else "the server stalled during STARTTLS: try again, or ask the provider"
        )
    elif only_tls12 or reason in _VERSION_REASONS:
        summary = (
            f"no TLS version both sides accept ({reason or text}); unisend asks for >= {min_tls}"
        )
        fix = (
            "the server does not offer TLS 1.3: use min_tls=1.2 (the default), or a "
            "server that offers TLS 1.3"
            if min_tls == "1.3"
            else "the server offers only TLS older than 1.2, which unisend refuses: ask the "
            "provider for TLS 1.2 or later"
        )
    elif reason in _PLAINTEXT_REASONS or (implicit and isinstance(exc, ConnectionError)):
        summary = f"the server answered in plain text, not TLS ({reason or text})"
        fix = (
            f"port {port} speaks plain SMTP first (STARTTLS), not implicit TLS: "
            f"use smtp://{host}:{port} instead of smtps://"
        )
    else:
        summary = f"the TLS handshake failed: {text}"
        fix = "check the port and scheme (465 = smtps://, 587 = smtp:// with STARTTLS)"
    out.add("tls", "fail", summary, fix, reason=reason or None)
    out.add("certificate", "skip", "not checked: no TLS session")


def handshake_success(out: Results, tls: ssl.SSLObject, host: str) -> None:
    """Record ``tls`` ok (version, cipher) and the ``certificate`` expiry check."""
    cipher = tls.cipher()
    version = tls.version() or "?"
    out.add(
        "tls",
        "ok",
        f"{version} with {cipher[0] if cipher else '?'}",
        version=version,
        cipher=cipher[0] if cipher else None,
    )
    cert = tls.getpeercert() or {}
    not_after = cert.get("notAfter")
    if not isinstance(not_after, str):
        out.add("certificate", "ok", f"trusted and valid for {host}")
        return
    days = (ssl.cert_time_to_seconds(not_after) - time.time()) / 86400
    details: dict[str, Any] = {"not_after": not_after, "days_left": int(days)}
    if days < EXPIRY_WARN_DAYS:
        out.add(
            "certificate",
            "warn",
            f"trusted for {host}, but expires in {days:.0f} days ({not_after})",
            f"the certificate of {host} expires within {EXPIRY_WARN_DAYS} days: the server's "
            "admin must renew it (mail stops when it expires)",
            **details,
        )
        return
    out.add("certificate", "ok", f"trusted, valid for {host}, {days:.0f} days left", **details)


__all__ = ["EXPIRY_WARN_DAYS", "certificate_failure", "handshake_failure", "handshake_success"]
