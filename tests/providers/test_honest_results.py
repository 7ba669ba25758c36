"""Honest results (issue 9, item 12): a 2xx the provider's API would never send for an
accepted message is not a success. An empty, HTML or ``null`` body is the ambiguous
TransientError (the message may have gone out); a 200 whose body is Postmark's error
object is Postmark's error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from unisend import Message, MessageRejected, ProviderError, SendResult, TransientError
from unisend.transports.brevo import BrevoTransport
from unisend.transports.mailtrap import MailtrapTransport
from unisend.transports.postmark import PostmarkTransport

PROVIDERS: dict[str, tuple[Callable[[], Any], str]] = {
    "brevo": (lambda: BrevoTransport(api_key="k"), "https://api.brevo.com/v3/smtp/email"),
    "mailtrap": (lambda: MailtrapTransport(token="t"), "https://send.api.mailtrap.io/api/send"),
    "mailtrap-sandbox": (
        lambda: MailtrapTransport(token="t", sandbox=True, inbox_id=7),
        "https://sandbox.api.mailtrap.io/api/send/7",
    ),
    "postmark": (lambda: PostmarkTransport(server_token="t"), "https://api.postmarkapp.com/email"),
}

UNREADABLE = {
    "empty": httpx.Response(201, content=b""),
    "html": httpx.Response(200, text="<html><body>OK</body></html>"),
    "null": httpx.Response(200, json=None),
    "a-list": httpx.Response(200, json=[]),
    "a-string": httpx.Response(202, json="queued"),
}


def _message() -> Message:
    return Message(sender="ann@example.com", to="bob@example.com", subject="Hi", html="<p>Hi</p>")


@pytest.mark.parametrize("body", list(UNREADABLE))
@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_unreadable_2xx_is_ambiguous_never_a_success(via: Any, provider: str, body: str) -> None:
    make, url = PROVIDERS[provider]
    with respx.mock(assert_all_called=True) as mock:
        mock.post(url).mock(return_value=UNREADABLE[body])
        with pytest.raises(TransientError) as caught:
            via.send(make(), _message())
    error = caught.value
    assert error.ambiguous is True
    assert error.retryable is True
    assert error.status_code == UNREADABLE[body].status_code
    assert "may have been accepted" in str(error)


def test_unreadable_2xx_in_send_many_is_reported_in_place(via: Any) -> None:
    make, url = PROVIDERS["brevo"]  # no batch endpoint: one request per message
    with respx.mock(assert_all_called=True) as mock:
        mock.post(url).mock(
            side_effect=[
                httpx.Response(201, json={"messageId": "<1@relay>"}),
                httpx.Response(201, content=b""),
            ]
        )
        results = via.send_many(make(), [_message(), _message()])
    assert isinstance(results[0], SendResult) and results[0].message_id == "<1@relay>"
    assert isinstance(results[1], TransientError) and results[1].ambiguous


def test_readable_brevo_answers_still_succeed(via: Any) -> None:
    make, url = PROVIDERS["brevo"]
    with respx.mock(assert_all_called=True) as mock:
        mock.post(url).mock(return_value=httpx.Response(201, json={"messageIds": ["<a@b>"]}))
        result = via.send(make(), _message())
    assert result == SendResult(message_id="<a@b>", transport="brevo")


def test_postmark_single_send_200_with_error_code_is_the_providers_error(via: Any) -> None:
    make, url = PROVIDERS["postmark"]
    body = {"ErrorCode": 300, "Message": "Invalid 'To' address: 'bob@example.com'."}
    with respx.mock(assert_all_called=True) as mock:
        mock.post(url).mock(return_value=httpx.Response(200, json=body))
        with pytest.raises(MessageRejected) as caught:
            via.send(make(), _message())
    assert caught.value.provider_code == "300"
    assert caught.value.rejected == {"bob@example.com": body["Message"]}
    assert "Invalid 'To' address" in str(caught.value)


def test_postmark_single_send_200_with_unconfirmed_sender_is_a_provider_error(via: Any) -> None:
    make, url = PROVIDERS["postmark"]
    body = {"ErrorCode": 400, "Message": "The 'From' address is not a Sender Signature."}
    with respx.mock(assert_all_called=True) as mock:
        mock.post(url).mock(return_value=httpx.Response(200, json=body))
        with pytest.raises(ProviderError) as caught:
            via.send(make(), _message())
    assert caught.value.provider_code == "400"


def test_postmark_single_send_200_with_error_code_zero_succeeds(via: Any) -> None:
    make, url = PROVIDERS["postmark"]
    body = {"To": "bob@example.com", "MessageID": "abc-1", "ErrorCode": 0, "Message": "OK"}
    with respx.mock(assert_all_called=True) as mock:
        mock.post(url).mock(return_value=httpx.Response(200, json=body))
        result = via.send(make(), _message())
    assert result.message_id == "abc-1"
