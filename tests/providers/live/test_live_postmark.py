"""Live Postmark checks (opt-in): ``UNISEND_LIVE=1`` runs them with ``-m live``.

The sandbox checks use Postmark's public test token (nothing is delivered); the real
send needs ``POSTMARK_SERVER_TOKEN``, ``POSTMARK_FROM`` (a confirmed Sender Signature) and
``POSTMARK_TO``. The variables are read at import: the suite's autouse fixture strips
``UNISEND_*`` from each test's environment.
"""

from __future__ import annotations

import os

import pytest

from unisend import AuthenticationError, Message, SendResult
from unisend.transports.postmark import PostmarkTransport

LIVE = os.environ.get("UNISEND_LIVE") == "1"
TOKEN = os.environ.get("POSTMARK_SERVER_TOKEN", "")
SENDER = os.environ.get("POSTMARK_FROM", "unisend-live@example.com")
RECIPIENT = os.environ.get("POSTMARK_TO", "test@blackhole.postmarkapp.com")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not LIVE, reason="live test: set UNISEND_LIVE=1 and run with -m live"),
]


def message(n: int = 0) -> Message:
    return Message(sender=SENDER, to=RECIPIENT, subject=f"unisend live {n}", text="live check")


def test_sandbox_send_is_accepted() -> None:
    with PostmarkTransport(sandbox=True) as transport:
        result = transport.send(message())
    assert isinstance(result, SendResult) and result.message_id


async def test_sandbox_batch_keeps_order() -> None:
    async with PostmarkTransport(sandbox=True) as transport:
        results = await transport.asend_many([message(0), message(1)])
    assert [isinstance(r, SendResult) for r in results] == [True, True]


def test_bad_token_is_an_authentication_error() -> None:
    transport = PostmarkTransport(server_token="00000000-0000-0000-0000-000000000000")
    with transport, pytest.raises(AuthenticationError) as caught:
        transport.send(message())
    assert caught.value.provider_code == "10"


@pytest.mark.skipif(not TOKEN, reason="needs POSTMARK_SERVER_TOKEN, POSTMARK_FROM, POSTMARK_TO")
def test_real_send() -> None:
    with PostmarkTransport(server_token=TOKEN) as transport:
        result = transport.send(message())
    assert result.message_id
