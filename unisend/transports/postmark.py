"""Postmark over its HTTP API: ``POST /email``, ``/email/withTemplate`` and the batch
endpoints ``/email/batch`` and ``/email/batchWithTemplates`` (at most 500 messages each).

Field mapping, error codes and limits are documented in ``docs/providers/postmark.md``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import (
    AuthenticationError,
    ConfigurationError,
    MessageRejected,
    ProviderError,
    RateLimited,
    SendError,
    TransientError,
)
from .._message import Address, Message
from .._result import SendResult
from .._url import UrlSpec
from ._http import (
    ApiRequest,
    ErrorDetails,
    HttpOptions,
    HttpTransport,
    http_kwargs_from_spec,
    is_number,
    merge_options,
    request_json,
    require_credential,
    response_json,
    snippet,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: The token Postmark accepts for validation without delivery (its documented test mode).
TEST_TOKEN = "POSTMARK_API_TEST"

#: ErrorCode -> error class; codes not listed fall back to the HTTP status table.
ERROR_CLASSES: Mapping[int, type[SendError]] = {
    10: AuthenticationError,  # bad or missing server token
    100: TransientError,  # maintenance
    300: MessageRejected,  # invalid email request (refined below for the From address)
    400: ProviderError,  # sender signature not found
    401: ProviderError,  # sender signature not confirmed
    402: MessageRejected,  # invalid JSON
    403: MessageRejected,  # incompatible JSON
    405: ProviderError,  # not allowed to send (credits, suspension)
    406: MessageRejected,  # inactive recipient
    409: MessageRejected,  # JSON required
    410: MessageRejected,  # too many batch messages
    411: MessageRejected,  # forbidden attachment type
    412: ProviderError,  # account pending approval
    413: ProviderError,  # account may not send
    429: RateLimited,
}

# "Found inactive addresses: a@x, b@y. Inactive recipients are ..." (406) and
# "Message OK, but will not deliver to these inactive addresses: a@x, b@y." (200).
_INACTIVE = re.compile(r"inactive addresses:\s*(?P<list>.*?)(?:\.\s+Inactive|\.?\s*$)", re.I | re.S)
_ACCEPT = {"Accept": "application/json"}  # Postmark requires it
_INVALID_ADDRESS = re.compile(
    r"Invalid '(?:To|Cc|Bcc)' address:\s*'?(?P<addr>[^'\s]+?)'?\.?$", re.I
)


class PostmarkTransport(HttpTransport):
    """Send through Postmark: ``PostmarkTransport(server_token="...")``.

    ``sandbox=True`` sends with Postmark's test token ``POSTMARK_API_TEST`` (the API
    validates the message and delivers nothing) instead of ``server_token``, which may then
    be omitted. ``message_stream`` picks the stream (``outbound`` is the default
    transactional one). Extra Postmark fields go through
    ``Message(provider_options={"postmark": {"TrackOpens": True}})``.
    """

    default_name = "postmark"
    default_base_url = "https://api.postmarkapp.com"
    secret_headers = frozenset({"x-postmark-server-token"})
    batch_limit = 500

    def __init__(
        self,
        *,
        server_token: str | None = None,
        message_stream: str = "outbound",
        sandbox: bool = False,
        **options: Unpack[HttpOptions],
    ) -> None:
        if server_token or not sandbox:
            require_credential(
                "PostmarkTransport",
                "server_token",
                server_token,
                "the Server API token of a Postmark server, or sandbox=True to validate with "
                "Postmark's test token",
            )
        if not message_stream or not message_stream.strip():
            raise ConfigurationError("PostmarkTransport: message_stream must not be empty")
        super().__init__(**options)
        self._token = server_token or ""
        self.message_stream = message_stream
        self.sandbox = sandbox

    def _auth_headers(self) -> dict[str, str]:
        token = TEST_TOKEN if self.sandbox else self._token
        return {"X-Postmark-Server-Token": token}

    def _secrets(self) -> list[str]:
        return [self._token] if self._token else []

    def _describe(self) -> str:
        sandbox = " sandbox" if self.sandbox else ""
        return f"{super()._describe()} message_stream={self.message_stream!r}{sandbox}"

    # ------------------------------------------------------------ message -> request

    def _payload(self, message: Message) -> dict[str, Any]:
        """The JSON object of one message (also one element of a batch)."""
        sender = self.require_sender(message)
        if len(message.tags) > 1:
            self.unsupported("a second tag", "Postmark takes one Tag per message")
        if message.send_at is not None:
            self.unsupported("send_at", "Postmark has no scheduled sending")
        payload: dict[str, Any] = {
            "From": str(sender),
            "To": _join(message.to),
        }
        if message.cc:
            payload["Cc"] = _join(message.cc)
        if message.bcc:
            payload["Bcc"] = _join(message.bcc)
        if message.reply_to:
            payload["ReplyTo"] = _join(message.reply_to)
        if message.template_id is not None:
            for field_name in ("subject", "text", "html"):
                if getattr(message, field_name):
                    self.unsupported(
                        f"{field_name} together with template_id",
                        "a Postmark template supplies its own subject and bodies",
                    )
            key = "TemplateId" if is_number(message.template_id) else "TemplateAlias"
            payload[key] = int(message.template_id) if key == "TemplateId" else message.template_id
            payload["TemplateModel"] = dict(message.template_data or {})
        else:
            payload["Subject"] = message.subject
            if message.text is not None:
                payload["TextBody"] = message.text
            if message.html is not None:
                payload["HtmlBody"] = message.html
        if message.attachments:
            payload["Attachments"] = [
                {
                    "Name": item.filename,
                    "Content": base64.b64encode(item.content).decode("ascii"),
                    "ContentType": item.mimetype,
                    **({"ContentID": f"cid:{item.content_id}"} if item.inline else {}),
                }
                for item in message.attachments
            ]
        if message.headers:
            payload["Headers"] = [{"Name": k, "Value": v} for k, v in message.headers.items()]
        if message.tags:
            payload["Tag"] = message.tags[0]
        if message.metadata:
            payload["Metadata"] = dict(message.metadata)
        payload["MessageStream"] = self.message_stream
        return merge_options(payload, self.options_for(message))

    def _build_request(self, message: Message) -> ApiRequest:
        path = "/email/withTemplate" if message.template_id is not None else "/email"
        return ApiRequest(path=path, json=self._payload(message), headers=_ACCEPT)

    def _build_batch(self, messages: Sequence[Message]) -> ApiRequest:
        payloads = [self._payload(message) for message in messages]
        if messages[0].template_id is not None:
            return ApiRequest(
                path="/email/batchWithTemplates", json={"Messages": payloads}, headers=_ACCEPT
            )
        return ApiRequest(path="/email/batch", json=payloads, headers=_ACCEPT)

    # ------------------------------------------------------------ response -> result

    def _parse_response(self, message: Message, response: httpx.Response) -> SendResult:
        outcome = self._outcome(message, self.success_document(response))
        if isinstance(outcome, SendError):
            raise outcome
        return outcome

    def _outcome(self, message: Message, item: object) -> SendResult | SendError:
        """One message's outcome from its answer object (single send or batch element):
        a 200 may still carry a non-zero ``ErrorCode``, which is the provider's error."""
        code = item.get("ErrorCode", 0) if isinstance(item, dict) else None
        if code == 0 and isinstance(item, dict):
            return self._result(message, item)
        # A failed element is classified as /email would have answered it: 422.
        details = _details(item if isinstance(item, dict) else {}, message)
        return self._make_error(422, details)

    def _result(self, message: Message, item: Mapping[str, Any]) -> SendResult:
        text = str(item.get("Message") or "")
        rejected = {address: text for address in _inactive(text, message)}
        message_id = item.get("MessageID")
        return SendResult(
            message_id=str(message_id) if message_id else None,
            transport=self.name,
            rejected=rejected,
        )

    def _parse_batch(
        self, messages: Sequence[Message], response: httpx.Response
    ) -> list[SendResult | SendError]:
        data = response_json(response)
        if not isinstance(data, list) or len(data) != len(messages):
            error = self._unreadable(response)
            return [error] * len(messages)
        return [self._outcome(m, item) for m, item in zip(messages, data, strict=True)]

    # ------------------------------------------------------------ failures

    def _error_details(self, response: httpx.Response) -> ErrorDetails:
        data = response_json(response)
        if not isinstance(data, dict):
            return ErrorDetails(text=snippet(response))
        return _details(data, None, _request_recipients(response))

    def _error_class(self, status: int, details: ErrorDetails) -> type[SendError]:
        if status in (401, 429) or status >= 500 or details.provider_code is None:
            return super()._error_class(status, details)
        code = int(details.provider_code)
        if code == 300 and "sender signature" in details.text.lower():
            return ProviderError  # From is not a confirmed Sender Signature
        return ERROR_CLASSES.get(code) or super()._error_class(status, details)

    # ------------------------------------------------------------ batches

    def _plan(self, messages: Sequence[Message]) -> list[tuple[Sequence[Message], ApiRequest]]:
        """Template and plain messages use different batch endpoints: cut the input into
        runs of one kind, then into chunks of 500, so the outcomes stay in input order."""
        plan: list[tuple[Sequence[Message], ApiRequest]] = []
        start = 0
        while start < len(messages):
            kind = messages[start].template_id is not None
            end = start
            while (
                end < len(messages)
                and end - start < self.batch_limit
                and (messages[end].template_id is not None) == kind
            ):
                end += 1
            chunk = messages[start:end]
            plan.append((chunk, self._build_batch(chunk)))
            start = end
        return plan


def _join(addresses: Sequence[Address]) -> str:
    return ", ".join(str(address) for address in addresses)


def _inactive(text: str, message: Message | None, recipients: Sequence[str] = ()) -> list[str]:
    """The addresses a Postmark "inactive addresses" text names, spelled as given."""
    match = _INACTIVE.search(text)
    if match is None:
        return []
    known = {a.email.lower(): a.email for a in (message.recipients if message else [])}
    known.update({r.lower(): r for r in recipients})
    found = [item.strip().rstrip(".") for item in match.group("list").split(",")]
    return [known.get(item.lower(), item) for item in found if "@" in item]


def _details(
    item: Mapping[str, Any], message: Message | None, recipients: Sequence[str] = ()
) -> ErrorDetails:
    text = str(item.get("Message") or "")
    code = item.get("ErrorCode")
    rejected = {address: text for address in _inactive(text, message, recipients)}
    invalid = _INVALID_ADDRESS.search(text)
    if invalid is not None:
        rejected[invalid.group("addr")] = text
    return ErrorDetails(
        text=text,
        provider_code=str(code) if isinstance(code, int) else None,
        rejected=rejected,
    )


def _request_recipients(response: httpx.Response) -> list[str]:
    """The addresses the failed request was sent to (so ``rejected`` keeps their spelling)."""
    body = request_json(response)
    if not isinstance(body, dict):
        return []
    found: list[str] = []
    for key in ("To", "Cc", "Bcc"):
        for part in str(body.get(key) or "").split(","):
            email = part.strip().rpartition("<")[2].rstrip(">").strip()
            if "@" in email:
                found.append(email)
    return found


def from_spec(spec: UrlSpec) -> PostmarkTransport:
    """``postmark://SERVER_TOKEN@default?message_stream=outbound`` (``?sandbox=true``
    needs no token)."""
    kwargs = http_kwargs_from_spec(spec)
    token = spec.username or spec.password
    if not kwargs.get("sandbox"):
        spec.require("the server token (postmark://SERVER_TOKEN@default)", token)
    return PostmarkTransport(server_token=token or None, **kwargs)


__all__ = ["ERROR_CLASSES", "TEST_TOKEN", "PostmarkTransport", "from_spec"]
