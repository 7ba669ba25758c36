"""Live Brevo checks (opt-in): ``UNISEND_LIVE=1`` plus ``BREVO_API_KEY``, ``BREVO_FROM``
(a verified sender) and ``BREVO_TO``; run with ``-m live``. Sends use Brevo's sandbox
header ``X-Sib-Sandbox: drop`` (validated, not delivered). The variables are read at
import: the suite's autouse fixture strips ``UNISEND_*`` from each test.
"""

from __future__ import annotations

import os

import pytest

from unisend import AuthenticationError, Message
from unisend.transports.brevo import BrevoTransport

LIVE = os.environ.get("UNISEND_LIVE") == "1"
KEY = os.environ.get("BREVO_API_KEY", "")
SENDER = os.environ.get("BREVO_FROM", "")
RECIPIENT = os.environ.get("BREVO_TO", "")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (LIVE and KEY and SENDER and RECIPIENT),
        reason="live test: set UNISEND_LIVE=1, BREVO_API_KEY, BREVO_FROM, BREVO_TO and run "
        "with -m live",
    ),
]


def message() -> Message:
    return Message(sender=SENDER, to=RECIPIENT, subject="unisend live", html="<p>live check</p>")


def test_sandbox_send_returns_a_message_id() -> None:
    with BrevoTransport(api_key=KEY, sandbox=True) as transport:
        result = transport.send(message())
    assert result.message_id


async def test_sandbox_asend_returns_a_message_id() -> None:
    async with BrevoTransport(api_key=KEY, sandbox=True) as transport:
        result = await transport.asend(message())
    assert result.message_id


def test_bad_key_is_an_authentication_error() -> None:
    transport = BrevoTransport(api_key="xkeysib-not-a-real-key", sandbox=True)
    with transport, pytest.raises(AuthenticationError) as caught:
        transport.send(message())
    assert caught.value.provider_code == "unauthorized"
    assert "xkeysib-not-a-real-key" not in str(caught.value)
