"""Opt-in tests against the real SendGrid API (never in CI).

Run with ``UNISEND_LIVE=1`` and:

* ``UNISEND_TEST_SENDGRID_API_KEY``: an API key with the Mail Send scope;
* ``UNISEND_TEST_SENDGRID_FROM``: a verified Sender Identity;
* ``UNISEND_TEST_SENDGRID_TO``: a recipient (sandbox mode: nothing is delivered).

``.venv/bin/python -m pytest -m live tests/providers/live/test_live_sendgrid.py``.
The variables are read at import: the suite's autouse fixture hides ``UNISEND_*`` from
the tests themselves.
"""

from __future__ import annotations

import os

import pytest

from unisend import AuthenticationError, Message
from unisend.transports import SendGridTransport

KEY = os.environ.get("UNISEND_TEST_SENDGRID_API_KEY", "")
SENDER = os.environ.get("UNISEND_TEST_SENDGRID_FROM", "")
RECIPIENT = os.environ.get("UNISEND_TEST_SENDGRID_TO", "")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        os.environ.get("UNISEND_LIVE") != "1" or not (KEY and SENDER and RECIPIENT),
        reason="live SendGrid test: set UNISEND_LIVE=1 and UNISEND_TEST_SENDGRID_{API_KEY,FROM,TO}",
    ),
]


def message() -> Message:
    return Message(
        sender=SENDER,
        to=RECIPIENT,
        subject="unisend live test — sandbox ✓",
        text="Sent by unisend's live test suite in SendGrid sandbox mode.",
        html="<p>Sent by unisend's live test suite in SendGrid <b>sandbox mode</b>.</p>",
        tags=["unisend-live"],
        metadata={"suite": "live"},
    )


def test_sandbox_send_is_accepted() -> None:
    with SendGridTransport(api_key=KEY, sandbox=True) as transport:
        result = transport.send(message())
    assert result.transport == "sendgrid"


async def test_sandbox_asend_is_accepted() -> None:
    async with SendGridTransport(api_key=KEY, sandbox=True) as transport:
        result = await transport.asend(message())
    assert result.transport == "sendgrid"


def test_a_wrong_key_is_an_authentication_error() -> None:
    transport = SendGridTransport(api_key="SG.unisend-live-wrong-key", sandbox=True)
    with transport, pytest.raises(AuthenticationError) as caught:
        transport.send(message())
    assert caught.value.status_code == 401
    assert "unisend-live-wrong-key" not in str(caught.value)
