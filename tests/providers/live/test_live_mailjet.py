"""Live Mailjet checks (opt-in): ``UNISEND_LIVE=1`` plus ``MAILJET_API_KEY``,
``MAILJET_SECRET_KEY``, ``MAILJET_FROM`` (a validated sender) and ``MAILJET_TO``; run
with ``-m live``. Sends use ``SandboxMode`` (validated, not delivered). The variables are
read at import: the suite's autouse fixture strips ``UNISEND_*`` from each test.
"""

from __future__ import annotations

import os

import pytest

from unisend import AuthenticationError, Message, SendResult
from unisend.transports.mailjet import MailjetTransport

LIVE = os.environ.get("UNISEND_LIVE") == "1"
KEY = os.environ.get("MAILJET_API_KEY", "")
SECRET = os.environ.get("MAILJET_SECRET_KEY", "")
SENDER = os.environ.get("MAILJET_FROM", "")
RECIPIENT = os.environ.get("MAILJET_TO", "")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (LIVE and KEY and SECRET and SENDER and RECIPIENT),
        reason="live test: set UNISEND_LIVE=1, MAILJET_API_KEY, MAILJET_SECRET_KEY, "
        "MAILJET_FROM, MAILJET_TO and run with -m live",
    ),
]


def message(n: int = 0) -> Message:
    return Message(sender=SENDER, to=RECIPIENT, subject=f"unisend live {n}", text="live check")


def test_sandbox_send_returns_recipient_ids() -> None:
    with MailjetTransport(api_key=KEY, secret_key=SECRET, sandbox=True) as transport:
        result = transport.send(message())
    assert result.message_id and result.message_id.isdigit()
    assert RECIPIENT in result.recipient_ids


async def test_sandbox_batch_keeps_order() -> None:
    async with MailjetTransport(api_key=KEY, secret_key=SECRET, sandbox=True) as transport:
        results = await transport.asend_many([message(0), message(1)])
    assert [isinstance(r, SendResult) for r in results] == [True, True]


def test_bad_secret_is_an_authentication_error() -> None:
    transport = MailjetTransport(api_key=KEY, secret_key="not-the-secret", sandbox=True)
    with transport, pytest.raises(AuthenticationError) as caught:
        transport.send(message())
    assert "not-the-secret" not in str(caught.value)
