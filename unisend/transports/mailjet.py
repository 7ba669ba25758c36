"""Mailjet over its Send API v3.1: ``POST /v3.1/send`` with up to 50 ``Messages``.

Field mapping, error codes and limits are documented in ``docs/providers/mailjet.md``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import AuthenticationError, MessageRejected, ProviderError, SendError
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

#: Mailjet ErrorCode -> error class; codes not listed fall back to the HTTP status table.
ERROR_CLASSES: Mapping[str, type[SendError]] = {
    "mj-0015": AuthenticationError,  # bad API key / secret
    "mj-0001": ProviderError,  # API key suspended
    "send-0006": ProviderError,  # Sender not allowed
    "send-0007": ProviderError,  # SenderID not allowed
    "send-0008": ProviderError,  # From is not a validated sender
    "mj-0013": MessageRejected,  # invalid recipient (see ErrorRelatedTo)
    "mj-0003": MessageRejected,  # missing value
    "mj-0007": MessageRejected,  # empty value
    "mj-0012": MessageRejected,  # missing value
    "mj-0008": MessageRejected,  # too many elements
    "mj-0011": MessageRejected,  # payload too large
    "send-0003": MessageRejected,  # no content
    "send-0004": MessageRejected,  # duplicated content
    "send-0011": MessageRejected,  # a header that has a dedicated property
    "send-0015": MessageRejected,  # too many recipients
}

_RELATED = re.compile(r"^(?:Messages\[\d+\]\.)?(?P<field>To|Cc|Bcc)\[(?P<index>\d+)\]")


class MailjetTransport(HttpTransport):
    """Send through Mailjet: ``MailjetTransport(api_key="...", secret_key="...")``.

    ``sandbox=True`` sets the root ``SandboxMode: true``: Mailjet validates the message
    fully and delivers nothing. Extra Mailjet fields go through
    ``Message(provider_options={"mailjet": {"TrackOpens": "disabled"}})`` (merged into the
    message object).
    """

    default_name = "mailjet"
    default_base_url = "https://api.mailjet.com"
    secret_headers = frozenset({"authorization"})
    batch_limit = 50

    def __init__(
        self,
        *,
        api_key: str | None = None,
        secret_key: str | None = None,
        sandbox: bool = False,
        **options: Unpack[HttpOptions],
    ) -> None:
        where = "from Mailjet's account settings, API key management"
        api_key = require_credential("MailjetTransport", "api_key", api_key, where)
        secret_key = require_credential("MailjetTransport", "secret_key", secret_key, where)
        super().__init__(**options)
        self._api_key = api_key
        self._secret_key = secret_key
        self._basic = base64.b64encode(f"{api_key}:{secret_key}".encode()).decode("ascii")
        self.sandbox = sandbox

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": "Basic " + self._basic}

    def _secrets(self) -> list[str]:
        return [self._basic, self._api_key, self._secret_key]

    def _describe(self) -> str:
        return super()._describe() + (" sandbox" if self.sandbox else "")

    # ------------------------------------------------------------ message -> request

    def _message(self, message: Message) -> dict[str, Any]:
        """One element of ``Messages``."""
        sender = self.require_sender(message)
        if len(message.reply_to) > 1:
            self.unsupported("a second reply_to address", "Mailjet takes one ReplyTo")
        if len(message.tags) > 1:
            self.unsupported("a second tag", "Mailjet takes one CustomCampaign per message")
        if message.send_at is not None:
            self.unsupported("send_at", "Mailjet's Send API v3.1 has no scheduled sending")
        item: dict[str, Any] = {"From": _address(sender), "To": _addresses(message.to)}
        if message.cc:
            item["Cc"] = _addresses(message.cc)
        if message.bcc:
            item["Bcc"] = _addresses(message.bcc)
        if message.reply_to:
            item["ReplyTo"] = _address(message.reply_to[0])
        if message.subject:
            item["Subject"] = message.subject
        if message.text is not None:
            item["TextPart"] = message.text
        if message.html is not None:
            item["HTMLPart"] = message.html
        if message.template_id is not None:
            if not is_number(message.template_id):
                self.unsupported(
                    f"template_id {message.template_id!r}", "Mailjet template ids are numbers"
                )
            item["TemplateID"] = int(message.template_id)
            item["TemplateLanguage"] = True
            if message.template_data is not None:
                item["Variables"] = dict(message.template_data)
        attachments = [a for a in message.attachments if not a.inline]
        inline = [a for a in message.attachments if a.inline]
        if attachments:
            item["Attachments"] = [
                {
                    "ContentType": a.mimetype,
                    "Filename": a.filename,
                    "Base64Content": base64.b64encode(a.content).decode("ascii"),
                }
                for a in attachments
            ]
        if inline:
            item["InlinedAttachments"] = [
                {
                    "ContentType": a.mimetype,
                    "Filename": a.filename,
                    "ContentID": a.content_id,
                    "Base64Content": base64.b64encode(a.content).decode("ascii"),
                }
                for a in inline
            ]
        if message.headers:
            item["Headers"] = dict(message.headers)
        if message.tags:
            item["CustomCampaign"] = message.tags[0]
        if message.metadata:
            item["EventPayload"] = json.dumps(message.metadata)
        return merge_options(item, self.options_for(message))

    def _root(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        root: dict[str, Any] = {"Messages": items}
        if self.sandbox:
            root["SandboxMode"] = True
        return root

    def _build_request(self, message: Message) -> ApiRequest:
        return ApiRequest(path="/v3.1/send", json=self._root([self._message(message)]))

    def _build_batch(self, messages: Sequence[Message]) -> ApiRequest:
        return ApiRequest(path="/v3.1/send", json=self._root([self._message(m) for m in messages]))

    # ------------------------------------------------------------ response -> result

    def _parse_response(self, message: Message, response: httpx.Response) -> SendResult:
        outcome = self._per_message([message], response)
        if outcome is None:
            raise self._unreadable(response)
        if isinstance(outcome[0], SendError):
            raise outcome[0]
        return outcome[0]

    def _parse_batch(
        self, messages: Sequence[Message], response: httpx.Response
    ) -> list[SendResult | SendError]:
        outcomes = self._per_message(messages, response)
        if outcomes is None:
            return [self._unreadable(response)] * len(messages)
        return outcomes

    def _batch_failure(
        self, chunk: Sequence[Message], response: httpx.Response
    ) -> list[SendResult | SendError]:
        # Mailjet answers 400 when any message failed, while the others were sent:
        # the body still says, per message, what happened. A whole-call failure (bad
        # credentials, throttling, 5xx) has no per-message list.
        per_message = response.status_code < 500 and response.status_code != 429
        outcomes = self._per_message(chunk, response) if per_message else None
        return outcomes if outcomes is not None else super()._batch_failure(chunk, response)

    def _per_message(
        self, messages: Sequence[Message], response: httpx.Response
    ) -> list[SendResult | SendError] | None:
        """Per-message outcomes from ``{"Messages": [...]}``, or None if it is not there."""
        data = response_json(response)
        items = data.get("Messages") if isinstance(data, dict) else None
        if not isinstance(items, list) or len(items) != len(messages):
            return None
        outcomes: list[SendResult | SendError] = []
        for message, item in zip(messages, items, strict=True):
            if not isinstance(item, dict):
                return None
            if item.get("Status") == "success":
                outcomes.append(self._result(item))
                continue
            errors = [e for e in item.get("Errors") or [] if isinstance(e, dict)]
            status = next(
                (e["StatusCode"] for e in errors if isinstance(e.get("StatusCode"), int)), 400
            )
            outcomes.append(self._make_error(status, _details(errors, _envelope(message))))
        return outcomes

    def _result(self, item: Mapping[str, Any]) -> SendResult:
        ids: dict[str, str] = {}
        first: str | None = None
        for key in ("To", "Cc", "Bcc"):
            for recipient in item.get(key) or []:
                if not isinstance(recipient, dict) or recipient.get("MessageID") is None:
                    continue
                message_id = str(recipient["MessageID"])
                ids.setdefault(str(recipient.get("Email", "")), message_id)
                if first is None and key == "To":
                    first = message_id
        return SendResult(message_id=first, transport=self.name, recipient_ids=ids)

    # ------------------------------------------------------------ failures

    def _error_details(self, response: httpx.Response) -> ErrorDetails:
        data = response_json(response)
        if not isinstance(data, dict):
            return ErrorDetails(text=snippet(response))
        items = data.get("Messages")
        if isinstance(items, list):
            # One message answered with its own Errors list (HTTP 400).
            errors = [
                e
                for item in items
                if isinstance(item, dict)
                for e in item.get("Errors") or []
                if isinstance(e, dict)
            ]
            return _details(errors, _request_message(response))
        # Whole-call error: {"ErrorIdentifier", "ErrorCode", "ErrorMessage", "StatusCode"}.
        return _details([data], None)

    def _error_class(self, status: int, details: ErrorDetails) -> type[SendError]:
        if status == 429 or status >= 500 or details.provider_code is None:
            return super()._error_class(status, details)
        return ERROR_CLASSES.get(details.provider_code) or super()._error_class(status, details)


def _address(address: Address) -> dict[str, str]:
    return (
        {"Email": address.email, "Name": address.name} if address.name else {"Email": address.email}
    )


def _addresses(addresses: Sequence[Address]) -> list[dict[str, str]]:
    return [_address(address) for address in addresses]


def _envelope(message: Message) -> dict[str, Any]:
    """The recipient lists of ``message`` in Mailjet's shape (to resolve ErrorRelatedTo)."""
    return {
        "To": _addresses(message.to),
        "Cc": _addresses(message.cc),
        "Bcc": _addresses(message.bcc),
    }


def _details(
    errors: Sequence[Mapping[str, Any]], message: Mapping[str, Any] | None
) -> ErrorDetails:
    """ErrorDetails from Mailjet error objects; ``message`` is the JSON message object
    that was sent, used to turn ``ErrorRelatedTo: ["To[0].Email"]`` into the address."""
    texts = [str(e.get("ErrorMessage") or "") for e in errors]
    code = next((str(e["ErrorCode"]) for e in errors if e.get("ErrorCode")), None)
    rejected: dict[str, str] = {}
    for error, text in zip(errors, texts, strict=True):
        for related in error.get("ErrorRelatedTo") or []:
            address = _related_address(str(related), message)
            if address:
                rejected[address] = text
    return ErrorDetails(
        text="; ".join(t for t in texts if t), provider_code=code, rejected=rejected
    )


def _related_address(related: str, message: Mapping[str, Any] | None) -> str | None:
    match = _RELATED.match(related)
    if match is None or message is None:
        return None
    recipients = message.get(match.group("field")) or []
    index = int(match.group("index"))
    if index < len(recipients) and isinstance(recipients[index], dict):
        return str(recipients[index].get("Email") or "") or None
    return None


def _request_message(response: httpx.Response) -> Mapping[str, Any] | None:
    """The first message object of the request that failed."""
    body = request_json(response)
    items = body.get("Messages") if isinstance(body, dict) else None
    return items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else None


def from_spec(spec: UrlSpec) -> MailjetTransport:
    """``mailjet://API_KEY:SECRET_KEY@default``."""
    kwargs = http_kwargs_from_spec(spec)
    api_key = spec.require("the API key (mailjet://API_KEY:SECRET_KEY@default)", spec.username)
    secret = spec.require("the secret key (mailjet://API_KEY:SECRET_KEY@default)", spec.password)
    return MailjetTransport(api_key=api_key, secret_key=secret, **kwargs)


__all__ = ["ERROR_CLASSES", "MailjetTransport", "from_spec"]
