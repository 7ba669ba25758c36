"""The shared base of the HTTP provider transports.

A provider module supplies only pure mapping code — message -> :class:`ApiRequest`,
response -> :class:`~unisend.SendResult`, failure -> error class — and this base owns
the httpx clients (one pooled sync client and one async client per transport), timeouts,
the mapping of transport failures onto the error tree and the redaction of secrets.
This is django-anymail's payload/backend split with httpx's sync and async edges.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn, TypedDict

import httpx

from .._errors import (
    ConfigurationError,
    InvalidMessage,
    MessageRejected,
    RateLimited,
    SendError,
    TransientError,
)
from .._message import Address, Message, check_no_control
from .._redact import redact_headers, redact_text
from .._result import SendResult
from .._url import UrlSpec
from .._version import __version__
from . import _json_body
from ._json_body import JsonBody, has_long_string
from ._status import error_class, parse_retry_after
from ._sync_http import ApiClient
from .base import Transport, require_sender

USER_AGENT = f"unisend/{__version__}"

log = logging.getLogger("unisend")


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request to a provider, built without I/O."""

    path: str
    json: Any
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorDetails:
    """What a provider's error body says, extracted by the provider module."""

    text: str
    provider_code: str | None = None
    rejected: Mapping[str, str] = field(default_factory=dict)


class HttpOptions(TypedDict, total=False):
    """The keywords every HTTP provider passes through to :class:`HttpTransport`: a
    provider's constructor takes ``**options: Unpack[HttpOptions]``, so type checkers and
    IDEs still see each keyword (URL query parameters are declared in
    :data:`unisend._url.OPTIONS`)."""

    base_url: str | None
    timeout: float
    connect_timeout: float
    name: str | None
    min_tls: str
    ca_file: str | None
    client: httpx.Client | None
    async_client: httpx.AsyncClient | None


def require_credential(
    owner: str, keyword: str, value: object, hint: str, *, spaces: bool = True
) -> str:
    """Return ``value`` if it can be a credential, else raise ConfigurationError naming
    ``keyword`` and never the value; ``hint`` says where the credential comes from.

    A control character (a stray line break) is always refused; whitespace too with
    ``spaces=False``, for providers whose keys never hold it; and a non-ASCII character,
    which no provider's key holds and no HTTP header can carry (a placeholder such as
    ``"SG.…"`` pasted from an example).
    """
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{owner} needs {keyword}= ({hint})")
    try:
        check_no_control(keyword, value)
    except ValueError:
        bad = True
    else:
        bad = not spaces and any(char.isspace() for char in value)
    if bad:
        what = "a control character" if spaces else "whitespace or a control character"
        raise ConfigurationError(
            f"{owner}: {keyword} contains {what} (a stray line break?); copy it again"
        )
    if not value.isascii():
        raise ConfigurationError(
            f"{owner}: {keyword} contains a non-ASCII character, which no API key holds "
            "(a placeholder such as '…' left from an example?); paste the real key"
        )
    return value


def response_json(response: httpx.Response) -> Any:
    """The response's JSON document, or None when the body is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def request_json(response: httpx.Response) -> Any:
    """The JSON body of the request that got ``response`` (None when there is none), so an
    error can name the recipients as they were sent."""
    try:
        return json.loads(response.request.content)
    except (RuntimeError, ValueError):  # no request attached, or not JSON
        return None


def snippet(response: httpx.Response) -> str:
    """The start of a non-JSON error body; empty for an HTML page from the network edge
    (a proxy's 403, a gateway's 502), where the reason phrase says more."""
    text = response.text.strip()
    return "" if text.startswith("<") else text[:200]


def is_number(value: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts other scripts' digits)."""
    return value.isascii() and value.isdigit()


def merge_options(payload: dict[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge provider-specific ``options`` into ``payload`` (options win)."""
    for key, value in options.items():
        current = payload.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merge_options(current, value)
        else:
            payload[key] = value
    return payload


def may_stream(messages: Sequence[Message]) -> bool:
    """Whether the request for ``messages`` can hold a string long enough to stream (see
    :mod:`._json_body`): an attachment, a long text or html, or a field whose size
    unisend does not bound. Otherwise the scan of the whole JSON document is skipped:
    on a 500-message batch it cost more than the rest of the request building."""
    limit = _json_body.STREAM_STRING_CHARS
    for message in messages:
        if (
            message.attachments
            or len(message.subject) > limit
            or any(len(tag) > limit for tag in message.tags)
            or message.template_data
            or message.metadata
            or message.headers
            or message.provider_options
            or len(message.text or "") > limit
            or len(message.html or "") > limit
        ):
            return True
    return False


class HttpTransport(Transport):
    """Base of the HTTP providers. Subclasses set the class variables and implement
    :meth:`_auth_headers`, :meth:`_build_request`, :meth:`_parse_response` and
    :meth:`_error_details`; they may refine :meth:`_classify` and the batch hooks."""

    #: ``scheme://host[:port]`` of the provider's API.
    default_base_url: ClassVar[str]
    #: Header names (lower case) that carry credentials: masked everywhere.
    secret_headers: ClassVar[frozenset[str]] = frozenset()
    #: Most messages one batch request may carry; 0 when the provider has no batch endpoint.
    batch_limit: ClassVar[int] = 0

    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        name: str | None = None,
        min_tls: str = "1.2",
        ca_file: str | None = None,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(name=name)
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        if not self.base_url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"{type(self).__name__}: base_url must start with https:// or http://, "
                f"got {self.base_url!r}"
            )
        if min_tls not in ("1.2", "1.3"):
            raise ConfigurationError(f"min_tls must be '1.2' or '1.3', got {min_tls!r}")
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._min_tls = min_tls
        self._ca_file = ca_file
        self._client = client
        self._async_client = async_client
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ provider hooks

    @abstractmethod
    def _auth_headers(self) -> dict[str, str]:
        """The credential headers (declared in :attr:`secret_headers`)."""

    def _secrets(self) -> list[str]:
        """Raw secret values, scrubbed from any error text: each header value and, for
        ``Bearer KEY`` / ``Basic TOKEN`` forms, the bare credential too."""
        secrets: list[str] = []
        for value in self._auth_headers().values():
            if value:
                secrets.append(value)
                scheme, _, credential = value.partition(" ")
                if credential and scheme.lower() in {"bearer", "basic", "token"}:
                    secrets.append(credential)
        return secrets

    @abstractmethod
    def _build_request(self, message: Message) -> ApiRequest:
        """Map ``message`` onto the provider's request; raise InvalidMessage for what it
        cannot carry."""

    @abstractmethod
    def _parse_response(self, message: Message, response: httpx.Response) -> SendResult:
        """Turn a 2xx response into a :class:`SendResult`."""

    @abstractmethod
    def _error_details(self, response: httpx.Response) -> ErrorDetails:
        """Read the provider's error text, code and refused recipients from a failure."""

    def _retry_after(self, response: httpx.Response) -> float | None:
        """Seconds to wait from ``Retry-After`` (providers may add their own headers)."""
        value = response.headers.get("retry-after")
        return None if value is None else parse_retry_after(value)

    def _build_batch(self, messages: Sequence[Message]) -> ApiRequest:
        """Map up to :attr:`batch_limit` messages onto one batch request."""
        raise NotImplementedError

    def _parse_batch(
        self, messages: Sequence[Message], response: httpx.Response
    ) -> list[SendResult | SendError]:
        """Per-message outcomes of a batch response, in input order."""
        raise NotImplementedError

    # ------------------------------------------------------------ shared helpers

    def check(self, message: Message) -> None:
        """Build the request and throw it away: every refusal happens in the builder."""
        self._build_request(message)

    def unsupported(self, field_name: str, why: str = "") -> NoReturn:
        """Raise the InvalidMessage for a field this provider cannot carry."""
        reason = f" ({why})" if why else ""
        raise InvalidMessage(
            f"{self.default_name} cannot carry {field_name}{reason}; remove it or use "
            "another transport"
        )

    def options_for(self, message: Message) -> Mapping[str, Any]:
        """The message's ``provider_options`` for this provider."""
        return message.provider_options.get(self.default_name, {})

    def require_sender(self, message: Message) -> Address:
        """The message's sender, or InvalidMessage before any I/O."""
        return require_sender(message, self.default_name)

    def _unreadable(self, response: httpx.Response, text: str = "") -> TransientError:
        """A 2xx answer unisend cannot read: the provider may have accepted the
        message(s), so the error is ambiguous."""
        return TransientError(
            text
            or f"{self.default_name} answered {response.status_code} with a body unisend "
            "cannot read; the message may have been accepted",
            transport=self.name,
            status_code=response.status_code,
            ambiguous=True,
        )

    def success_document(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON object of a 2xx answer; an empty, HTML, ``null`` or other non-object
        body raises the ambiguous :meth:`_unreadable` error, never a success without an
        id."""
        document = response_json(response)
        if not isinstance(document, dict):
            raise self._unreadable(response)
        return document

    def _classify(self, response: httpx.Response) -> SendError:
        """Map a non-2xx response onto the error tree (DESIGN.md "HTTP classification")."""
        details = self._error_details(response)
        retry_after = self._retry_after(response) if response.status_code == 429 else None
        return self._make_error(
            response.status_code,
            details,
            fallback=response.reason_phrase,
            retry_after=retry_after,
        )

    def _error_class(self, status: int, details: ErrorDetails) -> type[SendError]:
        """The error class for ``status``; providers refine it by ``details.provider_code``
        (e.g. Postmark answers 422 for a bad token)."""
        return error_class(status)

    def _make_error(
        self,
        status: int,
        details: ErrorDetails,
        *,
        fallback: str = "",
        retry_after: float | None = None,
    ) -> SendError:
        """Build the classified error from a status and the provider's details; also used
        for the per-message failures inside a batch response."""
        text = redact_text(details.text or fallback or "error", self._secrets())
        text = f"{self.default_name} answered {status}: {text}"
        common: dict[str, Any] = {
            "transport": self.name,
            "status_code": status,
            "provider_code": details.provider_code,
        }
        cls = self._error_class(status, details)
        if issubclass(cls, RateLimited):
            return cls(text, retry_after=retry_after, **common)
        if issubclass(cls, MessageRejected):
            return cls(text, rejected=details.rejected, **common)
        return cls(text, **common)

    def _network_error(self, exc: httpx.HTTPError) -> SendError:
        """Map an httpx failure, keeping its reason (see :mod:`._failures`) and never the
        exception itself, which holds the request headers; a read failure after the body
        went out is ambiguous."""
        from ._failures import reason, standin

        secrets = self._secrets()
        why = reason(exc, httpx.URL(self.base_url).host)
        ambiguous = isinstance(exc, (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError))
        if isinstance(exc, httpx.ReadTimeout):
            what = f"no answer within {self.timeout.read:g} s after the request was sent"
        elif ambiguous:
            what = f"the connection broke after the request was sent ({why})"
        elif isinstance(exc, httpx.PoolTimeout):
            what = f"no free connection within {self.timeout.pool:g} s"
        elif isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            what = f"cannot connect: {why}"
            if why == "timed out":
                what += f" after {self.timeout.connect:g} s"
        else:
            what = f"{type(exc).__name__}: {why}"
        if ambiguous:
            what += "; the provider may have accepted it"
        text = redact_text(f"{self.default_name}: {self.base_url}: {what}", secrets)
        error = TransientError(text, transport=self.name, ambiguous=ambiguous)
        error.__cause__ = standin(exc, secrets)
        return error

    def _sealed(self, error: SendError) -> SendError:
        """``error`` as it may leave this transport: no known secret in its text or
        fields, and nothing in its chain but unisend errors and :mod:`._failures`
        stand-ins (a provider hook may raise inside ``except ValueError``, whose JSON
        error holds the whole body; an httpx error holds the request headers)."""
        from ._failures import standin

        secrets = self._secrets()
        if error.args:
            error.args = (redact_text(str(error.args[0]), secrets), *error.args[1:])
        if isinstance(error, MessageRejected):
            error.rejected = {k: redact_text(v, secrets) for k, v in error.rejected.items()}
        cause = error.__cause__
        if isinstance(cause, SendError):
            error.__cause__ = self._sealed(cause)
        elif cause is not None:
            error.__cause__ = standin(cause, secrets)  # a copy of a stand-in is one too
        error.__context__ = None
        error.__suppress_context__ = True
        return error

    def _headers(self, request: ApiRequest) -> dict[str, str]:
        return {**self._auth_headers(), **request.headers}

    def _ssl_verify(self) -> ssl.SSLContext:
        # The shared context also for an http:// base URL: httpx's own default
        # (verify=True) would load the CA bundle again for every client, 20-30 ms.
        from .._tls import client_context

        return client_context(self._min_tls, self._ca_file)

    # ------------------------------------------------------------ sync edge

    def _sync_client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    # No cookie jar, URLs parsed once: see _sync_http.
                    self._client = ApiClient(
                        base_url=self.base_url,
                        timeout=self.timeout,
                        verify=self._ssl_verify(),
                        headers={"User-Agent": USER_AGENT},
                        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                    )
        return self._client

    def _outgoing(
        self, request: ApiRequest, *, for_async: bool, scan: bool = True
    ) -> tuple[dict[str, Any], bool]:
        """The httpx ``request()`` keywords for ``request`` and whether its body is
        streamed (``scan=False``: its messages cannot hold a string long enough, see
        :func:`may_stream`); logs the request at DEBUG with every secret header masked."""
        headers = self._headers(request)
        url = self.base_url + request.path
        if log.isEnabledFor(logging.DEBUG):
            shown = redact_headers(headers, self.secret_headers)
            log.debug("%s %s %s headers=%s", self.name, request.method, url, shown)
        kwargs: dict[str, Any] = {"method": request.method, "url": url}
        if not scan or not has_long_string(request.json):
            kwargs.update(json=request.json, headers=headers)
            return kwargs, False
        # A large attachment: the body is written in chunks, never whole in memory.
        body = JsonBody(request.json)
        kwargs.update(
            content=body.aiter() if for_async else body,
            headers={**body.headers(), **headers},
        )
        return kwargs, True

    def _post(self, request: ApiRequest, scan: bool = True) -> httpx.Response:
        kwargs, streamed = self._outgoing(request, for_async=False, scan=scan)
        try:
            response = self._sync_client().request(**kwargs)
            if streamed and not response.is_success:
                response.request.read()  # for request_json(): error parsers read it
        except httpx.HTTPError as exc:
            error = self._network_error(exc)
        else:
            return response
        # Raised outside the except block, so the httpx error is not its __context__;
        # and the credential headers are no frame local of its traceback.
        del kwargs
        raise error

    def send(self, message: Message) -> SendResult:
        """Send one message in one API call, or raise the classified SendError."""
        request = self._build_request(message)
        try:
            response = self._post(request, may_stream((message,)))
            if response.is_success:
                return self._parse_response(message, response)
            error = self._classify(response)
        except SendError as exc:
            error = exc
        raise self._sealed(error)

    def send_many(self, messages: Sequence[Message]) -> list[SendResult | SendError]:
        """Use the provider's batch endpoint in chunks of :attr:`batch_limit` where it has
        one; a failed batch request reports its error for every message of that chunk.
        Every request is built first, so an invalid message raises InvalidMessage before
        anything is sent."""
        results: list[SendResult | SendError] = []
        for chunk, request in self._plan(messages):
            try:
                response = self._post(request, may_stream(chunk))
            except SendError as exc:
                results.extend([self._sealed(exc)] * len(chunk))
                continue
            results.extend(self._outcomes(chunk, response))
        return results

    def _plan(self, messages: Sequence[Message]) -> list[tuple[Sequence[Message], ApiRequest]]:
        """Every request of a send_many, built (and so validated) before any I/O: one
        per message without a batch endpoint, one per chunk of :attr:`batch_limit`."""
        if not self.batch_limit:
            return [((message,), self._build_request(message)) for message in messages]
        chunks = [
            messages[start : start + self.batch_limit]
            for start in range(0, len(messages), self.batch_limit)
        ]
        return [(chunk, self._build_batch(chunk)) for chunk in chunks]

    def _outcomes(
        self, chunk: Sequence[Message], response: httpx.Response
    ) -> list[SendResult | SendError]:
        """Per-message outcomes of one planned request (errors sealed)."""
        outcomes: list[SendResult | SendError]
        try:
            if not self.batch_limit:
                if response.is_success:
                    outcomes = [self._parse_response(chunk[0], response)]
                else:
                    outcomes = [self._classify(response)]
            elif response.is_success:
                outcomes = self._parse_batch(chunk, response)
            else:
                outcomes = self._batch_failure(chunk, response)
        except SendError as exc:
            outcomes = [exc] * len(chunk)
        return [self._sealed(o) if isinstance(o, SendError) else o for o in outcomes]

    def _batch_failure(
        self, chunk: Sequence[Message], response: httpx.Response
    ) -> list[SendResult | SendError]:
        """Outcomes when a batch request failed as a whole (providers may refine)."""
        error = self._classify(response)
        return [error] * len(chunk)

    def close(self) -> None:
        """Close the pooled sync client (the async one closes with :meth:`aclose`)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # ------------------------------------------------------------ async edge

    def _aclient(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        # An AsyncClient's pool belongs to one event loop; a new loop gets a new client.
        if self._async_client is None or (
            self._async_loop is not None and self._async_loop is not loop
        ):
            # httpcore's one big pool collapses at high concurrency: the transport
            # underneath is chosen by measurement (see _async_http).
            from ._async_http import AsyncApiClient, async_transport

            self._async_client = AsyncApiClient(
                base_url=self.base_url,
                timeout=self.timeout,
                headers={"User-Agent": USER_AGENT},
                transport=async_transport(self._ssl_verify),
            )
            self._async_loop = loop
        return self._async_client

    async def _apost(self, request: ApiRequest, scan: bool = True) -> httpx.Response:
        kwargs, streamed = self._outgoing(request, for_async=True, scan=scan)
        try:
            response = await self._aclient().request(**kwargs)
            if streamed and not response.is_success:
                await response.request.aread()  # for request_json(): error parsers read it
        except httpx.HTTPError as exc:
            error = self._network_error(exc)
        else:
            return response
        del kwargs  # see _post
        raise error

    async def asend(self, message: Message) -> SendResult:
        """Async :meth:`send`; never blocks the event loop."""
        request = self._build_request(message)
        try:
            response = await self._apost(request, may_stream((message,)))
            if response.is_success:
                return self._parse_response(message, response)
            error = self._classify(response)
        except SendError as exc:
            error = exc
        raise self._sealed(error)

    async def asend_many(self, messages: Sequence[Message]) -> list[SendResult | SendError]:
        """Async :meth:`send_many`."""
        results: list[SendResult | SendError] = []
        for chunk, request in self._plan(messages):
            try:
                response = await self._apost(request, may_stream(chunk))
            except SendError as exc:
                results.extend([self._sealed(exc)] * len(chunk))
                continue
            results.extend(self._outcomes(chunk, response))
        return results

    async def aclose(self) -> None:
        """Close both clients."""
        self.close()
        client, self._async_client = self._async_client, None
        if client is not None:
            await client.aclose()

    def _describe(self) -> str:
        return f"base_url={self.base_url!r}"


def base_url_from_spec(spec: UrlSpec) -> str | None:
    """``?base_url=`` wins; a host other than ``default`` means ``https://host[:port]``."""
    explicit = spec.query.get("base_url")
    if explicit:
        return explicit
    if spec.host and spec.host != "default":
        return f"https://{spec.host}" + (f":{spec.port}" if spec.port else "")
    return None


def http_kwargs_from_spec(spec: UrlSpec, factory: Any = None) -> dict[str, Any]:
    """The constructor keywords an HTTP URL gives: base_url plus the typed query
    parameters the scheme declares (``factory`` is no longer read)."""
    kwargs = spec.options(skip=("base_url",))
    base_url = base_url_from_spec(spec)
    if base_url:
        kwargs["base_url"] = base_url
    return kwargs


__all__ = [
    "USER_AGENT",
    "ApiRequest",
    "ErrorDetails",
    "HttpOptions",
    "HttpTransport",
    "base_url_from_spec",
    "http_kwargs_from_spec",
    "is_number",
    "merge_options",
    "request_json",
    "require_credential",
    "response_json",
    "snippet",
]
