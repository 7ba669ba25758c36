"""Opt-in tests against the real Mailtrap APIs (never in CI).

Run with ``UNISEND_LIVE=1`` and:

* ``UNISEND_TEST_MAILTRAP_TOKEN``: an API token;
* ``UNISEND_TEST_MAILTRAP_INBOX_ID``: an Email Sandbox inbox the token may write to;
* optionally ``UNISEND_TEST_MAILTRAP_FROM`` (an address on a verified sending domain) and
  ``UNISEND_TEST_MAILTRAP_TO`` for the sending-API test, which really delivers one message.

``.venv/bin/python -m pytest -m live tests/providers/live/test_live_mailtrap.py``.
The variables are read at import: the suite's autouse fixture hides ``UNISEND_*`` from
the tests themselves.
"""

from __future__ import annotations

import os

import pytest

from unisend import Address, AuthenticationError, Message, SendResult
from unisend.transports import MailtrapTransport

TOKEN = os.environ.get("UNISEND_TEST_MAILTRAP_TOKEN", "")
INBOX = os.environ.get("UNISEND_TEST_MAILTRAP_INBOX_ID", "")
SENDER = os.environ.get("UNISEND_TEST_MAILTRAP_FROM", "")
RECIPIENT = os.environ.get("UNISEND_TEST_MAILTRAP_TO", "")
LIVE = os.environ.get("UNISEND_LIVE") == "1"

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (LIVE and TOKEN and INBOX),
        reason="live Mailtrap test: set UNISEND_LIVE=1 and UNISEND_TEST_MAILTRAP_{TOKEN,INBOX_ID}",
    ),
]


def message(sender: str = "unisend-live@example.com", to: str = "inbox@example.com") -> Message:
    return Message(
        sender=sender,
        to=to,
        subject="unisend live test ✓",
        text="Sent by unisend's live test suite.",
        html="<p>Sent by unisend's live test suite.</p>",
        tags=["unisend-live"],
        metadata={"suite": "live"},
    )


def sandbox() -> MailtrapTransport:
    return MailtrapTransport(token=TOKEN, sandbox=True, inbox_id=INBOX)


def test_sandbox_send_lands_in_the_inbox() -> None:
    with sandbox() as transport:
        result = transport.send(message())
    assert result.message_id and result.transport == "mailtrap"


async def test_sandbox_asend_and_batch() -> None:
    async with sandbox() as transport:
        single = await transport.asend(message())
        many = await transport.asend_many([message(), message()])
    assert single.message_id
    assert [type(r) for r in many] == [SendResult, SendResult]


def test_a_wrong_token_is_an_authentication_error() -> None:
    transport = MailtrapTransport(token="unisend-live-wrong-token", sandbox=True, inbox_id=INBOX)
    with transport, pytest.raises(AuthenticationError) as caught:
        transport.send(message())
    assert "unisend-live-wrong-token" not in str(caught.value)


@pytest.mark.skipif(
    not (SENDER and RECIPIENT), reason="set UNISEND_TEST_MAILTRAP_{FROM,TO} to send for real"
)
def test_sending_api_delivers() -> None:
    with MailtrapTransport(token=TOKEN) as transport:
        result = transport.send(message(SENDER, RECIPIENT))
    assert result.message_id
    assert set(result.recipient_ids) == {Address.parse(RECIPIENT).ascii_email}
