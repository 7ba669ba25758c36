"""``SendGridTransport``: SendGrid's v3 Mail Send API (``POST /v3/mail/send``).

Pure mapping code over :class:`~unisend.transports._http.HttpTransport`: message ->
JSON body, 202 + ``X-Message-Id`` -> :class:`~unisend.SendResult`, error body -> error
class. No batch endpoint is used: SendGrid's personalizations share one content,
sender and attachment set, so different messages cannot share one request.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from .._errors import ProviderError, SendError
from .._message import Address, Attachment, Message
from .._result import SendResult
from .._url import UrlSpec
from ._http import (
    ApiRequest,
    ErrorDetails,
    HttpOptions,
    HttpTransport,
    http_kwargs_from_spec,
    merge_options,
    request_json,
    require_credential,
    response_json,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

SEND_PATH = "/v3/mail/send"

# 401 is also SendGrid's answer to an exhausted plan (sendgrid-nodejs#1032): a quota
# problem of this route, not bad credentials.
_QUOTA_401 = re.compile(r"maximum credits exceeded", re.IGNORECASE)


def address_json(address: Address) -> dict[str, str]:
    """``{"email", "name"?}`` with the domain in punycode when it is an IDN."""
    email = address.email
    if not email.isascii():  # IDN domain: punycode (ascii_email re-validates, so only then)
        email = address.ascii_email or email
    item = {"email": email}
    if address.name:
        item["name"] = address.name
    return item


def recipients_json(message: Message) -> dict[str, Any]:
    """``{"to", "cc"?, "bcc"?}``: the recipient lists in the shape SendGrid (one
    personalization) and Mailtrap (the body) share."""
    lists = {"to": message.to, "cc": message.cc, "bcc": message.bcc}
    return {
        key: [address_json(address) for address in addresses]
        for key, addresses in lists.items()
        if addresses or key == "to"
    }


def attachment_json(attachment: Attachment) -> dict[str, str]:
    """The ``{content, filename, type, disposition, content_id?}`` shape shared by
    SendGrid and Mailtrap."""
    item = {
        "content": base64.b64encode(attachment.content).decode("ascii"),
        "filename": attachment.filename,
        "type": attachment.mimetype,
        "disposition": "inline" if attachment.inline else "attachment",
    }
    if attachment.inline and attachment.content_id:
        item["content_id"] = attachment.content_id
    return item


class SendGridTransport(HttpTransport):
    """Send through SendGrid's v3 Mail Send API.

    ``sandbox=True`` sets ``mail_settings.sandbox_mode.enable``: SendGrid validates the
    request and answers 200 without delivering. Provider-specific fields (``asm``,
    ``tracking_settings``, ``ip_pool_name``, ``batch_id``, ...) go in
    ``Message(provider_options={"sendgrid": {...}})`` and are deep-merged into the body.
    """

    default_name = "sendgrid"
    default_base_url = "https://api.sendgrid.com"
    secret_headers: ClassVar[frozenset[str]] = frozenset({"authorization"})

    def __init__(
        self, *, api_key: str, sandbox: bool = False, **options: Unpack[HttpOptions]
    ) -> None:
        self._api_key = require_credential(
            "SendGridTransport",
            "api_key",
            api_key,
            "an API key with the Mail Send scope",
            spaces=False,
        )
        self.sandbox = sandbox
        super().__init__(**options)

    # ------------------------------------------------------------ hooks

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def _secrets(self) -> list[str]:
        return [self._api_key]

    def _build_request(self, message: Message) -> ApiRequest:
        return ApiRequest(path=SEND_PATH, json=self.payload(message))

    def payload(self, message: Message) -> dict[str, Any]:
        """The Mail Send JSON body for ``message`` (no I/O); raises InvalidMessage for
        what SendGrid cannot carry."""
        sender = self.require_sender(message)
        personalization = recipients_json(message)
        body: dict[str, Any] = {
            "personalizations": [personalization],
            "from": address_json(sender),
        }
        if len(message.reply_to) == 1:
            body["reply_to"] = address_json(message.reply_to[0])
        elif message.reply_to:
            body["reply_to_list"] = [address_json(a) for a in message.reply_to]
        if message.subject:
            body["subject"] = message.subject
        content = []
        if message.text is not None:
            content.append({"type": "text/plain", "value": message.text})
        if message.html is not None:
            content.append({"type": "text/html", "value": message.html})
        if content:
            body["content"] = content
        if message.attachments:
            body["attachments"] = [attachment_json(a) for a in message.attachments]
        if message.headers:
            body["headers"] = dict(message.headers)
        if message.tags:
            body["categories"] = list(message.tags)
        if message.metadata:
            body["custom_args"] = dict(message.metadata)
        if message.template_id is not None:
            body["template_id"] = message.template_id
            if message.template_data:
                self._template_data(message, personalization)
        if message.send_at is not None:
            body["send_at"] = int(message.send_at.timestamp())
        if self.sandbox:
            body["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return merge_options(body, self.options_for(message))

    def _template_data(self, message: Message, personalization: dict[str, Any]) -> None:
        data = message.template_data or {}
        if (message.template_id or "").startswith("d-"):
            personalization["dynamic_template_data"] = dict(data)
            return
        # Legacy templates substitute plain strings only.
        wrong = sorted(key for key, value in data.items() if not isinstance(value, str))
        if wrong:
            self.unsupported(
                f"template_data values that are not strings ({', '.join(map(repr, wrong))})",
                "legacy (non 'd-') templates take string substitutions only; "
                "use a dynamic template or pass strings",
            )
        personalization["substitutions"] = dict(data)

    def _parse_response(self, message: Message, response: httpx.Response) -> SendResult:
        return SendResult(
            message_id=response.headers.get("x-message-id") or None,
            transport=self.name,
        )

    def _error_details(self, response: httpx.Response) -> ErrorDetails:
        return ErrorDetails(text=error_text(response), rejected=rejected_recipients(response))

    def _error_class(self, status: int, details: ErrorDetails) -> type[SendError]:
        if status == 401 and _QUOTA_401.search(details.text):
            return ProviderError
        return super()._error_class(status, details)

    def _retry_after(self, response: httpx.Response) -> float | None:
        seconds = super()._retry_after(response)
        if seconds is not None:
            return seconds
        reset = response.headers.get("x-ratelimit-reset")
        try:
            return None if reset is None else max(0.0, float(reset) - time.time())
        except ValueError:
            return None


def error_text(response: httpx.Response) -> str:
    """``message (field: f)`` for each item of SendGrid's ``{"errors": [...]}``."""
    document = response_json(response)
    errors = document.get("errors") if isinstance(document, Mapping) else None
    if not isinstance(errors, list):
        return response.text.strip()[:500]
    parts = []
    for error in errors:
        if not isinstance(error, Mapping):
            parts.append(str(error))
            continue
        text = str(error.get("message") or "error")
        field = error.get("field")
        if field and field != "null":
            text += f" (field: {field})"
        parts.append(text)
    return "; ".join(parts)


_RECIPIENT_FIELD = re.compile(r"personalizations\.(\d+)\.(to|cc|bcc)\.(\d+)\.email")


def rejected_recipients(response: httpx.Response) -> dict[str, str]:
    """Recipients an error names by field path (``personalizations.0.to.1.email``),
    looked up in the request that was sent, mapped to SendGrid's message."""
    document, sent = response_json(response), request_json(response)
    errors = document.get("errors") if isinstance(document, Mapping) else None
    rejected: dict[str, str] = {}
    for error in errors if isinstance(errors, list) else []:
        field = error.get("field") if isinstance(error, Mapping) else None
        match = _RECIPIENT_FIELD.fullmatch(field) if isinstance(field, str) else None
        if match is None:
            continue
        envelope, kind, index = int(match[1]), match[2], int(match[3])
        try:
            address = sent["personalizations"][envelope][kind][index]["email"]
        except (KeyError, IndexError, TypeError):
            continue
        rejected[str(address)] = str(error.get("message") or "refused")
    return rejected


def from_spec(spec: UrlSpec) -> SendGridTransport:
    """``sendgrid://API_KEY@default[?sandbox=true&base_url=...&timeout=...]``"""
    api_key = spec.require(
        "the API key (write it as sendgrid://API_KEY@default)", spec.password or spec.username
    )
    return SendGridTransport(api_key=api_key, **http_kwargs_from_spec(spec))


__all__ = ["SendGridTransport"]
