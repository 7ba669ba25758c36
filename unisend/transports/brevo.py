"""Brevo (formerly Sendinblue) over its HTTP API: ``POST /v3/smtp/email``.

Brevo has no batch of *different* messages: ``messageVersions`` varies only recipients,
subject, bodies and params around one sender, attachment set and tag list, and one
invalid version fails the whole request. So ``send_many`` sends one request per message
(one bad message never fails the others). Field mapping, error codes and limits are
documented in ``docs/providers/brevo.md``.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import AuthenticationError, MessageRejected, ProviderError, RateLimited, SendError
from .._message import Address, Attachment, Message
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

#: Brevo ``code`` -> error class; codes not listed fall back to the HTTP status table.
ERROR_CLASSES: Mapping[str, type[SendError]] = {
    "unauthorized": AuthenticationError,  # bad key, or a key used from an unauthorised IP
    "permission_denied": ProviderError,
    "not_enough_credits": ProviderError,  # quota
    "account_under_validation": ProviderError,
    "invalid_parameter": MessageRejected,
    "missing_parameter": MessageRejected,
    "out_of_range": MessageRejected,
    "bad_request": MessageRejected,
    "unprocessable_entity": MessageRejected,
    # The same request was already accepted: sending it elsewhere would duplicate it.
    "duplicate_request": MessageRejected,
    "too_many_requests": RateLimited,
}

#: The header that carries ``Message.metadata`` (Brevo has no metadata field).
METADATA_HEADER = "X-Mailin-custom"
#: The header that makes Brevo validate and drop the message (its sandbox mode).
SANDBOX_HEADER = "X-Sib-Sandbox"


class BrevoTransport(HttpTransport):
    """Send through Brevo: ``BrevoTransport(api_key="...")``.

    ``sandbox=True`` adds the email header ``X-Sib-Sandbox: drop``: Brevo validates the
    request, answers 201 with a message id and sends nothing. Extra Brevo fields go through
    ``Message(provider_options={"brevo": {"batchId": "..."}})`` (merged into the body).
    """

    default_name = "brevo"
    default_base_url = "https://api.brevo.com"
    secret_headers = frozenset({"api-key"})

    def __init__(
        self,
        *,
        api_key: str | None = None,
        sandbox: bool = False,
        **options: Unpack[HttpOptions],
    ) -> None:
        api_key = require_credential(
            "BrevoTransport",
            "api_key",
            api_key,
            "an API key from Brevo's SMTP & API settings; not the SMTP key",
        )
        super().__init__(**options)
        self._api_key = api_key
        self.sandbox = sandbox

    def _auth_headers(self) -> dict[str, str]:
        return {"api-key": self._api_key}

    def _describe(self) -> str:
        return super()._describe() + (" sandbox" if self.sandbox else "")

    # ------------------------------------------------------------ message -> request

    def _build_request(self, message: Message) -> ApiRequest:
        return ApiRequest(path="/v3/smtp/email", json=self._payload(message))

    def _payload(self, message: Message) -> dict[str, Any]:
        template = message.template_id
        if template is None:
            self.require_sender(message)  # a template may bring its own
        if len(message.reply_to) > 1:
            self.unsupported("a second reply_to address", "Brevo takes one replyTo")
        payload: dict[str, Any] = {}
        if message.sender is not None:
            payload["sender"] = _address(message.sender)
        payload["to"] = [_address(a) for a in message.to]
        if message.cc:
            payload["cc"] = [_address(a) for a in message.cc]
        if message.bcc:
            payload["bcc"] = [_address(a) for a in message.bcc]
        if message.reply_to:
            payload["replyTo"] = _address(message.reply_to[0])
        if message.subject:
            payload["subject"] = message.subject
        if template is not None:
            for field_name in ("text", "html"):
                if getattr(message, field_name) is not None:
                    self.unsupported(
                        f"{field_name} together with template_id",
                        "Brevo ignores the bodies when a template is used",
                    )
            if not is_number(template):
                self.unsupported(f"template_id {template!r}", "Brevo template ids are numbers")
            payload["templateId"] = int(template)
            if message.template_data is not None:
                payload["params"] = dict(message.template_data)
        else:
            if message.html is None:
                self.unsupported(
                    "a text-only message", "Brevo requires html (htmlContent); add html"
                )
            if not message.subject:
                self.unsupported("an empty subject", "Brevo requires a subject")
            if message.text is not None:
                payload["textContent"] = message.text
            payload["htmlContent"] = message.html
        if message.attachments:
            payload["attachment"] = [self._attachment(a) for a in message.attachments]
        headers = dict(message.headers)
        if message.metadata:
            if any(name.lower() == METADATA_HEADER.lower() for name in headers):
                self.unsupported(
                    f"metadata together with a {METADATA_HEADER} header",
                    "Brevo carries metadata in that header",
                )
            headers[METADATA_HEADER] = json.dumps(message.metadata)
        if self.sandbox:
            headers[SANDBOX_HEADER] = "drop"
        if headers:
            payload["headers"] = headers
        if message.tags:
            payload["tags"] = list(message.tags)
        if message.send_at is not None:
            payload["scheduledAt"] = _iso_utc(message.send_at)
        return merge_options(payload, self.options_for(message))

    def _attachment(self, attachment: Attachment) -> dict[str, str]:
        if attachment.inline:
            self.unsupported(
                f"the inline attachment {attachment.filename!r}",
                "Brevo has no inline images; send it as a regular attachment or link it",
            )
        guessed, _ = mimetypes.guess_type(attachment.filename, strict=False)
        if attachment.content_type and attachment.content_type != guessed:
            self.unsupported(
                f"content_type {attachment.content_type!r} for {attachment.filename!r}",
                "Brevo takes the type from the file name's extension; rename the file",
            )
        return {
            "content": base64.b64encode(attachment.content).decode("ascii"),
            "name": attachment.filename,
        }

    # ------------------------------------------------------------ response -> result

    def _parse_response(self, message: Message, response: httpx.Response) -> SendResult:
        data = self.success_document(response)
        message_id = data.get("messageId")
        if message_id is None:
            ids = data.get("messageIds")
            message_id = ids[0] if isinstance(ids, list) and ids else None
        return SendResult(
            message_id=str(message_id) if message_id else None,
            transport=self.name,
        )

    # ------------------------------------------------------------ failures

    def _error_details(self, response: httpx.Response) -> ErrorDetails:
        data = response_json(response)
        if not isinstance(data, dict):
            return ErrorDetails(text=snippet(response))
        text = str(data.get("message") or "")
        code = data.get("code")
        recipients = _request_recipients(response)
        rejected = {r: text for r in recipients if r.lower() in text.lower()}
        return ErrorDetails(text=text, provider_code=str(code) if code else None, rejected=rejected)

    def _error_class(self, status: int, details: ErrorDetails) -> type[SendError]:
        if status in (401, 429) or status >= 500 or details.provider_code is None:
            return super()._error_class(status, details)
        return ERROR_CLASSES.get(details.provider_code) or super()._error_class(status, details)

    def _retry_after(self, response: httpx.Response) -> float | None:
        """``Retry-After`` first, else Brevo's ``x-sib-ratelimit-reset`` (seconds)."""
        seconds = super()._retry_after(response)
        if seconds is not None:
            return seconds
        reset = response.headers.get("x-sib-ratelimit-reset")
        try:
            return max(0.0, float(reset)) if reset is not None else None
        except ValueError:
            return None


def _address(address: Address) -> dict[str, str]:
    if address.name:
        return {"email": address.email, "name": address.name}
    return {"email": address.email}


def _iso_utc(moment: datetime) -> str:
    """``2030-01-02T03:04:05Z`` (milliseconds only when present), as Brevo documents."""
    utc = moment.astimezone(timezone.utc)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _request_recipients(response: httpx.Response) -> list[str]:
    body = request_json(response)
    if not isinstance(body, dict):
        return []
    return [
        str(item["email"])
        for key in ("to", "cc", "bcc")
        for item in body.get(key) or []
        if isinstance(item, dict) and item.get("email")
    ]


def from_spec(spec: UrlSpec) -> BrevoTransport:
    """``brevo://API_KEY@default``."""
    kwargs = http_kwargs_from_spec(spec)
    api_key = spec.require("the API key (brevo://API_KEY@default)", spec.username or spec.password)
    return BrevoTransport(api_key=api_key, **kwargs)


__all__ = ["ERROR_CLASSES", "METADATA_HEADER", "SANDBOX_HEADER", "BrevoTransport", "from_spec"]
