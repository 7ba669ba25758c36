"""unisend._redact: the one module that masks secrets (URLs, headers, free text)."""

from __future__ import annotations

import pytest

from unisend._redact import (
    redact_headers,
    redact_secrets,
    redact_text,
    redact_url,
    url_secrets,
    userinfo_spans,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("smtp://ann:pa/ss+w#d@mx.example.com:587", "smtp://ann:***@mx.example.com:587"),
        ("smtps://ann@mx.example.com", "smtps://ann@mx.example.com"),  # a name, no secret
        ("mailjet://KEY:SEC/RET@default", "mailjet://***@default"),
        ("sendgrid://SG.a?b#c@default?timeout=3", "sendgrid://***@default?timeout=3"),
        ("smtp://u:p@ss@w@h", "smtp://u:***@h"),  # up to the last @
        (
            "failover(smtp://u:p)s(s@a roundrobin(sendgrid://K)@default brevo://B@default))?x=1",
            "failover(smtp://u:***@a roundrobin(sendgrid://***@default brevo://***@default))?x=1",
        ),
        ("failover(sendgrid://ab cd@default)", "failover(sendgrid://***@default)"),
        ("sandbox:///home/ann@corp/mail.sqlite3", "sandbox:///home/ann@corp/mail.sqlite3"),
        ("sandbox://u:secret@x/mail.sqlite3", "sandbox://***@x/mail.sqlite3"),
        ("brevo://default?api_key=K1&timeout=3", "brevo://default?api_key=***&timeout=3"),
        ("sendgrid://default", "sendgrid://default"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_scheme_inside_a_credential_does_not_start_a_url() -> None:
    assert redact_url("smtp://u:x(ab://cd@h") == "smtp://u:***@h"
    assert redact_url("smtp://u:ab://cd@h") == "smtp://u:***@h"


def test_single_reads_the_whole_text_as_one_url() -> None:
    assert redact_url("smtp://u:pa ss smtp://x@h", single=True) == "smtp://u:***@h"
    assert [(s.scheme, s.start, s.end) for s in userinfo_spans("x smtp://u:p@h", single=True)] == []


def test_url_secrets_are_the_values_only() -> None:
    assert url_secrets("smtp://ann:pa%2Fss@h") == ["pa%2Fss", "pa/ss"]
    assert url_secrets("smtp://ann@h") == []  # an SMTP user name is not a secret
    assert set(url_secrets("mailjet://KEY1:SEC2@default")) == {
        "KEY1:SEC2",
        "KEY1%3ASEC2",
        "KEY1",
        "SEC2",
    }
    assert url_secrets("failover(sendgrid://SG.a/b@default memory://)", None) == [
        "SG.a%2Fb",
        "SG.a/b",
    ]


def test_redact_secrets_changes_nothing_else() -> None:
    text = "the URL is missing the API key (write it as sendgrid://API_KEY@default)"
    assert redact_secrets(text, ["K3y-value"]) == text
    assert redact_secrets("a K3y-value b", ["K3y-value", "K3y"]) == "a *** b"
    assert redact_secrets("abc", ["abc"]) == "abc"  # too short to replace safely


def test_redact_text_masks_urls_word_by_word() -> None:
    text = "see https://docs.example.com/x for bob@example.com; proxy http://u:pw@proxy:3128"
    assert redact_text(text, ()) == (
        "see https://docs.example.com/x for bob@example.com; proxy http://***@proxy:3128"
    )
    assert redact_text("denied: xkeysib-123", ["xkeysib-123"]) == "denied: ***"


def test_redact_headers() -> None:
    shown = redact_headers({"api-key": "k", "Authorization": "Bearer k", "X-A": "1"}, ["API-Key"])
    assert shown == {"api-key": "***", "Authorization": "***", "X-A": "1"}
