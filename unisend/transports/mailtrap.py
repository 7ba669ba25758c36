"""``MailtrapTransport``: Mailtrap's Email Sending API and its Email Sandbox (testing) API.

Pure mapping code over :class:`~unisend.transports._http.HttpTransport`. Three hosts
share one body format: transactional ``https://send.api.mailtrap.io`` (default), bulk
``https://bulk.api.mailtrap.io`` (``bulk=True``) and the testing sandbox
``https://sandbox.api.mailtrap.io`` (``sandbox=True``, paths end in ``/{inbox_id}``).
``send_many`` uses ``/api/batch`` (at most 500 messages per request).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from .._errors import ConfigurationError, MessageRejected, ProviderError, SendError
from .._message import Message
from .._result import SendResult
from .._url import UrlSpec
from ._http import (
    ApiRequest,
    ErrorDetails,
    HttpOptions,
    HttpTransport,
    http_kwargs_from_spec,
    merge_options,
    require_credential,
    response_json,
)
from .sendgrid import address_json, attachment_json, recipients_json

if TYPE_CHECKING:
    from typing_extensions import Unpack

SENDING_URL = "https://send.api.mailtrap.io"
BULK_URL = "https://bulk.api.mailtrap.io"
SANDBOX_URL = "https://sandbox.api.mailtrap.io"
BATCH_LIMIT = 500

# The sandbox answers 429 both for throttling and for an exhausted plan; only the
# latter is a quota problem of the route (MT-OAS sandbox-sending, 429).
_QUOTA_429 = re.compile(r"plan limit|limit exhausted|quota", re.IGNORECASE)


class MailtrapTransport(HttpTransport):
    """Send through Mailtrap: the sending API, or the testing sandbox with ``sandbox=True``
    and ``inbox_id=`` (messages land in that inbox, nothing is delivered).

    Extra body fields go in ``Message(provider_options={"mailtrap": {...}})`` and are
    deep-merged into the body.
    """

    default_name = "mailtrap"
    default_base_url = SENDING_URL
    secret_headers: ClassVar[frozenset[str]] = frozenset({"authorization", "api-token"})
    batch_limit = BATCH_LIMIT

    def __init__(
        self,
        *,
        token: str,
        sandbox: bool = False,
        inbox_id: int | str | None = None,
        bulk: bool = False,
        **options: Unpack[HttpOptions],
    ) -> None:
        self._token = require_credential(
            "MailtrapTransport", "token", token, "an API token", spaces=False
        )
        if sandbox and bulk:
            raise ConfigurationError(
                "MailtrapTransport: sandbox=True and bulk=True exclude each other; "
                "the sandbox has no bulk stream"
            )
        self.sandbox = sandbox
        self.bulk = bulk
        self.inbox_id: str | None = None
        if sandbox:
            self.inbox_id = _check_inbox_id(inbox_id)
        elif inbox_id is not None:
            raise ConfigurationError(
                "MailtrapTransport: inbox_id is only used with sandbox=True "
                "(or the mailtrap+sandbox:// URL)"
            )
        if options.get("base_url") is None:
            options["base_url"] = SANDBOX_URL if sandbox else BULK_URL if bulk else SENDING_URL
        super().__init__(**options)

    # ------------------------------------------------------------ hooks

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _secrets(self) -> list[str]:
        return [self._token]

    def _path(self, endpoint: str) -> str:
        suffix = f"/{self.inbox_id}" if self.inbox_id is not None else ""
        return f"/api/{endpoint}{suffix}"

    def _build_request(self, message: Message) -> ApiRequest:
        return ApiRequest(path=self._path("send"), json=self.payload(message))

    def payload(self, message: Message) -> dict[str, Any]:
        """The ``/api/send`` JSON body for ``message`` (no I/O); raises InvalidMessage for
        what Mailtrap cannot carry."""
        sender = self.require_sender(message)
        if message.send_at is not None:
            self.unsupported("send_at", "Mailtrap has no scheduled sending")
        if len(message.tags) > 1:
            self.unsupported("more than one tag", "Mailtrap's category holds exactly one")
        body: dict[str, Any] = {"from": address_json(sender), **recipients_json(message)}
        headers = dict(message.headers)
        if len(message.reply_to) == 1:
            body["reply_to"] = address_json(message.reply_to[0])
        elif message.reply_to:
            # reply_to holds one address; several go in the header (as django-anymail does).
            headers["Reply-To"] = ", ".join(str(a) for a in message.reply_to)
        if message.template_id is not None:
            self._template(message, body)
        else:
            body["subject"] = message.subject
            if message.text is not None:
                body["text"] = message.text
            if message.html is not None:
                body["html"] = message.html
            if message.tags:
                body["category"] = message.tags[0]
        if message.attachments:
            body["attachments"] = [attachment_json(a) for a in message.attachments]
        if headers:
            body["headers"] = headers
        if message.metadata:
            body["custom_variables"] = dict(message.metadata)
        return merge_options(body, self.options_for(message))

    def _template(self, message: Message, body: dict[str, Any]) -> None:
        # A template brings its own subject, bodies and category (MT-OAS EmailFromTemplate).
        for field_name, value in (
            ("subject", message.subject or None),
            ("text", message.text),
            ("html", message.html),
            ("tags (category)", message.tags or None),
        ):
            if value is not None:
                self.unsupported(
                    f"{field_name} together with template_id",
                    "the template supplies it; remove it from the message",
                )
        body["template_uuid"] = message.template_id
        if message.template_data:
            body["template_variables"] = dict(message.template_data)

    def _parse_response(self, message: Message, response: httpx.Response) -> SendResult:
        document = self.success_document(response)
        if document.get("success") is False:
            raise self._make_error(
                response.status_code, ErrorDetails(text=_errors_text(document)), fallback="refused"
            )
        return self._result(message, document)

    def _result(self, message: Message, document: Mapping[str, Any]) -> SendResult:
        ids = [str(i) for i in document.get("message_ids") or []]
        recipients = [address_json(a)["email"] for a in message.recipients]
        # One id per recipient in to, cc, bcc order; the sandbox gives one id for all.
        per_recipient = (
            dict(zip(recipients, ids, strict=True)) if len(ids) == len(recipients) else {}
        )
        return SendResult(
            message_id=ids[0] if ids else None,
            transport=self.name,
            recipient_ids=per_recipient,
        )

    def _error_details(self, response: httpx.Response) -> ErrorDetails:
        document = response_json(response)
        if not isinstance(document, Mapping):
            return ErrorDetails(text=response.text.strip()[:500])
        return ErrorDetails(text=_errors_text(document))

    def _error_class(self, status: int, details: ErrorDetails) -> type[SendError]:
        if status == 429 and _QUOTA_429.search(details.text):
            return ProviderError
        return super()._error_class(status, details)

    # ------------------------------------------------------------ batch

    def _build_batch(self, messages: Sequence[Message]) -> ApiRequest:
        # Everything goes per request with an empty base: a request key would replace
        # the base key wholesale anyway, so sharing buys nothing but coupling.
        return ApiRequest(
            path=self._path("batch"),
            json={"base": {}, "requests": [self.payload(m) for m in messages]},
        )

    def _parse_batch(
        self, messages: Sequence[Message], response: httpx.Response
    ) -> list[SendResult | SendError]:
        document = _json(response)
        items = document.get("responses")
        if not isinstance(items, list) or len(items) != len(messages):
            # Cannot tell which messages went out: report each as ambiguous, never as sent.
            error = self._unreadable(
                response,
                f"mailtrap: the batch answer has no per-message result for each of the "
                f"{len(messages)} messages ({_errors_text(document) or 'no detail'}); "
                "some may have been accepted",
            )
            return [error] * len(messages)
        results: list[SendResult | SendError] = []
        for index, (message, item) in enumerate(zip(messages, items, strict=True)):
            if isinstance(item, Mapping) and item.get("success") is not False:
                results.append(self._result(message, item))
                continue
            text = _errors_text(item) if isinstance(item, Mapping) else str(item)
            results.append(
                MessageRejected(
                    f"mailtrap refused message {index} of the batch: {text or 'no detail'}",
                    transport=self.name,
                    status_code=response.status_code,
                )
            )
        return results

    def _describe(self) -> str:
        where = super()._describe()
        return f"{where} inbox_id={self.inbox_id!r}" if self.inbox_id is not None else where


def _check_inbox_id(inbox_id: int | str | None) -> str:
    if inbox_id is None or str(inbox_id).strip() == "":
        raise ConfigurationError(
            "MailtrapTransport: sandbox=True needs inbox_id=... (the number in the inbox's "
            "URL, e.g. mailtrap+sandbox://TOKEN@default?inbox_id=123456)"
        )
    text = str(inbox_id).strip()
    if isinstance(inbox_id, bool) or not text.isdigit():
        raise ConfigurationError(f"MailtrapTransport: inbox_id must be a number, got {text[:40]!r}")
    return text


def _json(response: httpx.Response) -> Mapping[str, Any]:
    document = response_json(response)
    return document if isinstance(document, Mapping) else {}


def _errors_text(document: Mapping[str, Any]) -> str:
    """Mailtrap's ``errors`` (a list of strings; the account API uses a string or
    ``error``) as one line."""
    errors = document.get("errors", document.get("error"))
    if isinstance(errors, list):
        return "; ".join(str(e) for e in errors)
    if isinstance(errors, Mapping):
        return "; ".join(f"{k}: {v}" for k, v in errors.items())
    return "" if errors is None else str(errors)


def from_spec(spec: UrlSpec) -> MailtrapTransport:
    """``mailtrap://TOKEN@default[?bulk=true]`` or
    ``mailtrap+sandbox://TOKEN@default?inbox_id=N`` (plus ``base_url``, ``timeout``...)."""
    token = spec.require(
        "the API token (write it as mailtrap://TOKEN@default)", spec.password or spec.username
    )
    kwargs = http_kwargs_from_spec(spec)
    if spec.scheme == "mailtrap+sandbox":
        kwargs["sandbox"] = True
    return MailtrapTransport(token=token, **kwargs)


__all__ = ["MailtrapTransport"]
