"""A key holding a non-ASCII character (the '…' of a placeholder pasted from an example)
is a ConfigurationError at construction naming the keyword, never a UnicodeEncodeError
from the HTTP layer at send time, and never echoing the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from unisend import ConfigurationError
from unisend.transports import (
    BrevoTransport,
    MailjetTransport,
    MailtrapTransport,
    PostmarkTransport,
    SendGridTransport,
)

KEY = "SG.secret-ké…"

BUILDERS: dict[str, tuple[str, Callable[[], Any]]] = {
    "sendgrid": ("api_key", lambda: SendGridTransport(api_key=KEY)),
    "postmark": ("server_token", lambda: PostmarkTransport(server_token=KEY)),
    "mailjet key": ("api_key", lambda: MailjetTransport(api_key=KEY, secret_key="s")),
    "mailjet secret": ("secret_key", lambda: MailjetTransport(api_key="k", secret_key=KEY)),
    "brevo": ("api_key", lambda: BrevoTransport(api_key=KEY)),
    "mailtrap": ("token", lambda: MailtrapTransport(token=KEY)),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_non_ascii_key_is_a_configuration_error(name: str) -> None:
    keyword, build = BUILDERS[name]
    with pytest.raises(ConfigurationError) as caught:
        build()
    text = str(caught.value)
    assert keyword in text and "non-ASCII" in text
    assert "secret-k" not in text and caught.value.__cause__ is None
