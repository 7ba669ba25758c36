"""The ``auth`` check's reading of an SMTP AUTH reply, in the words of the fix.

Codes per docs/troubleshooting.md: 535 5.7.8 (bad credentials; Gmail's BadCredentials),
534 5.7.9 (Gmail: application-specific password required), 535 5.7.139 (Microsoft 365:
SMTP AUTH disabled for the mailbox or the tenant, or blocked by Security Defaults),
550 5.7.30 (Microsoft 365: basic authentication retired for Client Submission).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._model import Status
from ._smtp_wire import Reply

_ENCODING_HINT = "percent-encode special characters in the URL (@ as %40, : as %3A, / as %2F)"


@dataclass(frozen=True)
class AuthOutcome:
    """What one AUTH reply means."""

    status: Status
    summary: str
    fix: str | None = None


def read_auth_reply(reply: Reply, user: str, mechanism: str) -> AuthOutcome:
    """Map the reply to a completed AUTH exchange onto an ``auth`` outcome."""
    code, enhanced, said = reply.code, reply.enhanced, f"({reply.code} {reply.enhanced or ''})"
    said = said.replace(" )", ")")
    if code == 235:
        return AuthOutcome("ok", f"logged in as {user} with {mechanism}")
    if (
        code == 534 and enhanced == "5.7.9"
    ) or "application-specific password" in reply.text.lower():
        return AuthOutcome(
            "fail",
            f"Gmail needs an app password {said}",
            "Gmail needs an app password (534 5.7.9): turn on 2-Step Verification, create an "
            "App Password for the account and put it in the URL instead of the account "
            "password (or use OAuth)",
        )
    if enhanced == "5.7.139":
        lowered = reply.text.lower()
        if "security defaults" in lowered:
            fix = (
                "Microsoft 365 Security Defaults block password logins to SMTP (535 5.7.139): "
                "turn Security Defaults off for the tenant or use OAuth (XOAUTH2)"
            )
        else:
            fix = (
                "Microsoft 365 has SMTP AUTH turned off for this mailbox (535 5.7.139): enable "
                "'Authenticated SMTP' for the mailbox (and the tenant) in the Microsoft 365 "
                "admin centre, or use OAuth (XOAUTH2)"
            )
        return AuthOutcome("fail", f"SMTP AUTH is disabled for this account {said}", fix)
    if enhanced == "5.7.30" or (code == 550 and "basic authentication" in reply.text.lower()):
        return AuthOutcome(
            "fail",
            f"basic authentication is switched off for this tenant {said}",
            "Microsoft 365 no longer accepts a password for SMTP here (550 5.7.30): use "
            "OAuth (XOAUTH2), or send through an HTTP provider",
        )
    if code == 530:
        return AuthOutcome(
            "fail",
            f"the server wants TLS before AUTH {said}",
            "drop security=none: the server takes credentials only after STARTTLS",
        )
    if code == 535 or code == 534:
        return AuthOutcome(
            "fail",
            f"wrong user name or password {said}",
            f"check the user name and password of {user}; {_ENCODING_HINT}; Gmail and "
            "Outlook accounts with 2-Step Verification need an app password",
        )
    if 400 <= code < 500:
        return AuthOutcome(
            "warn",
            f"the server could not check the credentials now {said}",
            "a temporary failure: try again later; if it persists, ask the provider",
        )
    return AuthOutcome(
        "fail",
        f"AUTH {mechanism} was refused: {reply}",
        "check that this account may use SMTP AUTH with a password",
    )


__all__ = ["AuthOutcome", "read_auth_reply"]
