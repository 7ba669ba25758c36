"""Round trip per provider: send a Message with metadata and tags through the transport to
a loopback HTTP server started here, build the event that provider's webhook would send
for the id the send returned (from the request the transport made), verify and parse it,
and match message_id, metadata and tags with the send."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from unisend import Message, SendResult
from unisend.transports import (
    BrevoTransport,
    MailjetTransport,
    MailtrapTransport,
    PostmarkTransport,
    SendGridTransport,
)
from unisend.webhooks import DeliveryEvent, parse_events

SENDGRID_ID = "W1sjLz-kTRi8rFYc5HRI7Q"
POSTMARK_ID = "b7bc2f4a-e38e-4336-af7d-e6c392c2f817"
MAILJET_ID = 288230384416866980  # above 2**53
BREVO_ID = "<202312031000.12345678901@smtp-relay.mailin.fr>"
MAILTRAP_ID = "0c7fd939-02cf-11ed-88c2-0a58a9feac02"

# path -> (status, headers, JSON body or None): what each provider answers a good send.
ANSWERS: dict[str, tuple[int, dict[str, str], Any]] = {
    "/v3/mail/send": (202, {"X-Message-Id": SENDGRID_ID}, None),
    "/email": (
        200,
        {},
        {
            "To": "alice@example.com",
            "SubmittedAt": "2023-12-03T10:00:00.0000000Z",
            "MessageID": POSTMARK_ID,
            "ErrorCode": 0,
            "Message": "OK",
        },
    ),
    "/v3.1/send": (
        200,
        {},
        {
            "Messages": [
                {
                    "Status": "success",
                    "CustomID": "",
                    "Cc": [],
                    "Bcc": [],
                    "To": [
                        {
                            "Email": "alice@example.com",
                            "MessageUUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2j",
                            "MessageID": MAILJET_ID,
                            "MessageHref": f"https://api.mailjet.com/v3/REST/message/{MAILJET_ID}",
                        }
                    ],
                }
            ]
        },
    ),
    "/v3/smtp/email": (201, {}, {"messageId": BREVO_ID}),
    "/api/send": (200, {}, {"success": True, "message_ids": [MAILTRAP_ID]}),
}


@dataclass
class Provider:
    """A loopback server that records requests and answers as the providers do."""

    url: str
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def last_json(self) -> Any:
        return json.loads(self.requests[-1][2])

    def last_headers(self) -> dict[str, str]:
        return self.requests[-1][1]


@pytest.fixture
def provider() -> Iterator[Provider]:
    recorded: list[tuple[str, dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            recorded.append((self.path, dict(self.headers), body))
            status, headers, document = ANSWERS[self.path]
            payload = b"" if document is None else json.dumps(document).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_address[1]}", recorded)
    finally:
        server.shutdown()
        server.server_close()


def message(tags: list[str]) -> Message:
    return Message(
        sender="Shop <shop@example.com>",
        to="Alice <alice@example.com>",
        subject="Your order",
        text="Shipped.",
        html="<p>Shipped.</p>",
        tags=tags,
        metadata={"order_id": "1234", "user": "42"},
    )


def assert_matches(event: DeliveryEvent, sent: Message, result: SendResult) -> None:
    assert result.message_id is not None
    assert event.message_id == result.message_id
    assert event.metadata == sent.metadata
    assert event.tags == tuple(sent.tags)
    assert event.recipient == "alice@example.com"


def test_sendgrid(provider: Provider, sendgrid_key, sign_sendgrid, sg_body) -> None:
    sent = message(["welcome", "onboarding"])
    with SendGridTransport(api_key="SG.key", base_url=provider.url) as transport:
        result = transport.send(sent)
    request = provider.last_json()
    # SendGrid echoes custom_args as top-level keys and categories as "category".
    event = {
        "email": "alice@example.com",
        "event": "delivered",
        "timestamp": 1701597600,
        "sg_event_id": "ZGVsaXZlcmVk",
        "sg_message_id": f"{SENDGRID_ID}.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
        "smtp-id": f"<{SENDGRID_ID}@ismtpd0039p1iad1.sendgrid.net>",
        "response": "250 OK",
        "category": request["categories"],
        **request["custom_args"],
    }
    private, public = sendgrid_key
    body = sg_body([event])
    (parsed,) = parse_events(
        "sendgrid", body, sign_sendgrid(private, body), verification_key=public
    )
    assert_matches(parsed, sent, result)


def test_postmark(provider: Provider, basic_header) -> None:
    sent = message(["welcome"])
    with PostmarkTransport(server_token="pm-token", base_url=provider.url) as transport:
        result = transport.send(sent)
    request = provider.last_json()
    event = {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": request["MessageStream"],
        "MessageID": POSTMARK_ID,
        "Recipient": "alice@example.com",
        "Tag": request["Tag"],
        "DeliveredAt": "2023-12-03T10:00:01.1234567Z",
        "Details": "Test delivery webhook details",
        "Metadata": request["Metadata"],
    }
    (parsed,) = parse_events(
        "postmark", json.dumps(event).encode(), basic_header("hook:pw"), basic_auth="hook:pw"
    )
    assert_matches(parsed, sent, result)


def test_mailjet(provider: Provider, basic_header) -> None:
    sent = message(["welcome"])
    with MailjetTransport(api_key="mj-key", secret_key="mj-secret", base_url=provider.url) as t:
        result = t.send(sent)
    (item,) = provider.last_json()["Messages"]
    # The event carries the 64-bit MessageID as a bare JSON number.
    body = (
        '{"event":"sent","time":1701597601,"email":"alice@example.com",'
        f'"MessageID":{MAILJET_ID},"mj_message_id":"{MAILJET_ID}",'
        f'"customcampaign":{json.dumps(item["CustomCampaign"])},'
        f'"Payload":{json.dumps(item["EventPayload"])},"smtp_reply":"sent (250 OK)"}}'
    ).encode()
    (parsed,) = parse_events("mailjet", body, basic_header("hook:pw"), basic_auth="hook:pw")
    assert result.message_id == "288230384416866980"
    assert_matches(parsed, sent, result)


def test_brevo(provider: Provider) -> None:
    sent = message(["welcome", "onboarding"])
    with BrevoTransport(api_key="xkeysib-key", base_url=provider.url) as transport:
        result = transport.send(sent)
    request = provider.last_json()
    event = {
        "event": "delivered",
        "email": "alice@example.com",
        "id": 9999999,
        "date": "2023-12-03 11:00:01",
        "ts": 1701597601,
        "message-id": BREVO_ID,
        "ts_event": 1701597601,
        "subject": request["subject"],
        "X-Mailin-custom": request["headers"]["X-Mailin-custom"],
        "sending_ip": "185.41.28.109",
        "ts_epoch": 1701597601123,
        "tag": json.dumps(request["tags"]),
        "tags": request["tags"],
    }
    (parsed,) = parse_events(
        "brevo",
        json.dumps([event]).encode(),
        {"Authorization": "Bearer brevo-hook-token"},
        token="brevo-hook-token",
    )
    assert_matches(parsed, sent, result)


@pytest.mark.parametrize("form", ["json", "jsonl"])
def test_mailtrap(provider: Provider, form: str) -> None:
    sent = message(["welcome"])
    with MailtrapTransport(token="mt-token", base_url=provider.url) as transport:
        result = transport.send(sent)
    request = provider.last_json()
    event = {
        "event": "delivery",
        "message_id": MAILTRAP_ID,
        "sending_stream": "transactional",
        "email": "alice@example.com",
        "timestamp": 1701597601,
        "event_id": "f1e2d3c4-b5a6-7890-1234-567890abcdef",
        "category": request["category"],
        "custom_variables": request["custom_variables"],
    }
    body = (
        json.dumps({"events": [event]}) if form == "json" else json.dumps(event) + "\n"
    ).encode()
    signature = hmac.new(b"mt-secret", body, hashlib.sha256).hexdigest()
    (parsed,) = parse_events(
        "mailtrap", body, {"Mailtrap-Signature": signature}, signing_secret="mt-secret"
    )
    assert_matches(parsed, sent, result)


def test_the_requests_really_went_over_loopback(provider: Provider) -> None:
    with PostmarkTransport(server_token="pm-token", base_url=provider.url) as transport:
        transport.send(message([]))
    path, headers, _ = provider.requests[0]
    assert path == "/email"
    assert {k.lower(): v for k, v in headers.items()}["x-postmark-server-token"] == "pm-token"
