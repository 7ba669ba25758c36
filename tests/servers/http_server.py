#!/usr/bin/env python3
"""unisend's HTTP test server: the email providers' APIs on loopback, in one process.

Standalone (standard library; ``trustme`` only with ``--tls-port``; uvloop when it is
installed), started by ``tests/servers/http.py`` as a subprocess, or by hand::

    python tests/servers/http_server.py --port 8080 --latency-ms 20

HTTP/1.1 on asyncio streams: keep-alive, pipelining (answers in request order),
``Content-Length`` and chunked bodies, ``Expect: 100-continue``, HTTP/1.0 and
``Connection: close``; a header block over 64 KiB gets 431. The target's query string is
ignored for routing.

Provider routes (answers modelled on each provider's API documentation and, for Mailtrap,
on its OpenAPI response schemas in ``tests/data/specs``)::

  POST /v3/mail/send               sendgrid        202, empty body, X-Message-Id: stub-sg-N
                                                   (200 with mail_settings.sandbox_mode.enable)
  GET  /v3/scopes                  sendgrid_scopes 200 {"scopes": [...]}
  POST /email                      postmark        200 {To, SubmittedAt, MessageID, ErrorCode: 0,
  POST /email/withTemplate         postmark_template    Message: "OK"}  (To echoes the request's)
  POST /email/batch                postmark_batch  200 [one such object per element]
  POST /email/batchWithTemplates   postmark_batch_templates  same, for {"Messages": [...]}
  GET  /server                     postmark_server 200 the server's settings
  POST /v3.1/send                  mailjet         200 {"Messages": [{Status: "success",
                                                   CustomID, To, Cc, Bcc}]}: every recipient of
                                                   the request echoed with MessageUUID,
                                                   MessageID, MessageHref
  GET  /v3/REST/apikey             mailjet_apikey  200 {"Count": 1, "Data": [...], "Total": 1}
  POST /v3/smtp/email              brevo           201 {"messageId": "<...@smtp-relay.mailin.fr>"};
                                                   with messageVersions {"messageIds": [...]}
  GET  /v3/account                 brevo_account   200 the account (email, plan, relay)
  POST /api/send                   mailtrap        200 {"success": true, "message_ids": [one per
                                                   recipient, in to, cc, bcc order]}
  POST /api/batch                  mailtrap_batch  200 {"success": true, "responses": [...]}
                                                   ({"base", "requests"}: a request's key
                                                   replaces the base's)
  POST /api/send/<inbox_id>        mailtrap_sandbox       as /api/send, ONE id for all
  POST /api/batch/<inbox_id>       mailtrap_sandbox_batch recipients (sandbox behaviour)
  GET  /api/accounts               mailtrap_accounts      200 [{"id", "name", "access_levels"}]

Ids: the N-th message this process accepted since the last reset has number N (a batch
numbers its elements in order; SendGrid one per personalization) and every id ends with
it: SendGrid ``stub-sg-N``; Postmark and Mailtrap ``00000000-0000-0000-RRRR-NNNNNNNNNNNN``
(RRRR: the recipient's index in hex, 0000 for the first); Mailjet MessageID
``288230376151711744 + R * 2**32 + N``; Brevo ``<202401010000.N@smtp-relay.mailin.fr>``.

Credentials: every provider route (send and key check) reads the provider's credential
(SendGrid ``Authorization: Bearer K``; Postmark ``X-Postmark-Server-Token``; Mailjet HTTP
Basic ``key:secret``, either part; Brevo ``api-key``; Mailtrap ``Api-Token`` or
``Authorization: Bearer``). Missing, or the value ``bad`` (or any ``--bad-credential V``):
401 with the provider's error body. ``forbidden`` (or any ``--forbidden-credential V``):
403 (a valid key lacking a permission). Anything else is a good credential.

Bodies: a POST body that is not JSON of the route's shape gets the provider's "invalid
JSON" answer (400; Postmark 422 ErrorCode 402). Otherwise the fields are not validated
(the provider tests check request bodies against the vendors' specs). A batch over the
documented size is refused as the provider does: SendGrid > 1000 personalizations 400,
Postmark > 500 messages 422 ErrorCode 410, Mailjet > 50 Messages 400 mj-0008, Mailtrap
> 500 requests 422. Wrong method on a known path: 405 with ``Allow``; unknown path: 404.

Faults, for reliability tests (checked before credentials; bodies in the provider's error
shape, 429 and 503 with ``Retry-After``):
  --fault-rate R          a fraction R of provider requests fails ...
  --fault-status 500,429  ... with these statuses, in turn
  --retry-after S         the Retry-After seconds (default 1)
  --fault-seed N          seed of the generator that picks the failing requests
  path prefix /_fault/<status>/<rate>/, e.g. POST /_fault/429/0.5/v3/mail/send: that
  fraction of requests under the prefix fails with that status (no restart needed).
  --latency-ms L          every answer (control routes too) leaves L ms after its request
                          arrived; delays of concurrent and pipelined requests overlap.

Control routes:
  GET  /_stats     200 {"requests" (provider requests, refused ones included), "messages"
                   (in accepted requests), "by_route" (accepted requests per route name),
                   "faults" and "auth_refused" (by status), "bad_json", "too_many",
                   "not_found", "bad_method", "server_errors" (a bug here: 500 and a
                   traceback on stderr), "connections", "bytes_in"}
  GET  /_requests  200 [{"method", "path", "route", "status", "headers", "length"}...]: the
                   last 1000 requests, oldest first (headers as sent: credentials included)
  POST /_reset     200 {}: counters, numbering and the request log back to zero

On start it prints one JSON line to stdout: {"pid", "host", "port", "tls_port", "ca_file",
"loop"}. ``--port 0`` (the default) picks a free port; ``--tls-port P`` adds a TLS listener
with a trustme certificate for 127.0.0.1, ::1 and localhost whose CA goes to ``--ca-file``
(default: a new temporary file). SIGTERM or SIGINT stops it (final counters on stderr).
"""

from __future__ import annotations

import os
import sys

# This file sits beside the tests' ``http.py``: run as a script, its folder would come first
# on the import path and that module would shadow the standard library's ``http``.
if os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import asyncio
import base64
import binascii
import collections
import http
import json
import random
import re
import signal
import ssl
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

MAX_HEAD_BYTES = 64 * 1024
REQUEST_LOG_SIZE = 1000
FIRST_MAILJET_ID = 288230376151711744  # the size of Mailjet's real MessageIDs (2**58)
BREVO_ID = "<202401010000.{}@smtp-relay.mailin.fr>"
REASONS = {status.value: status.phrase for status in http.HTTPStatus}


# ------------------------------------------------------------------ requests and replies


@dataclass
class Request:
    """One parsed request."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Reply:
    """One answer: status, JSON-or-bytes body, extra headers, and messages accepted."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"
    messages: int = 0

    @classmethod
    def json(cls, status: int, document: Any, *, messages: int = 0) -> Reply:
        return cls(status, json.dumps(document).encode(), messages=messages)

    def encode(self, close: bool) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Status')}",
            "Server: unisend-test-server",
            f"Content-Length: {len(self.body)}",
        ]
        if self.body:
            lines.append(f"Content-Type: {self.content_type}")
        if close:
            lines.append("Connection: close")
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


class Refused(Exception):
    """A request the provider refuses as a whole (batch too large, body not JSON)."""

    def __init__(self, reply: Reply, counter: str) -> None:
        super().__init__(reply.status)
        self.reply, self.counter = reply, counter


# ------------------------------------------------------------------ provider error bodies


def error_reply(provider: str, status: int, text: str, code: str | int | None = None) -> Reply:
    """``status`` with ``text`` in ``provider``'s error shape (``code``: its error code)."""
    document: Any
    if provider == "sendgrid":
        document = {"errors": [{"message": text, "field": None}]}
    elif provider == "postmark":
        if status == 403:  # Postmark's API has no 403: it is the network edge, in HTML
            return Reply(status, f"<html><body>{text}</body></html>".encode(), [], "text/html")
        document = {"Message": text} if code is None else {"ErrorCode": code, "Message": text}
    elif provider == "mailjet":
        document = {"ErrorIdentifier": "00000000-0000-0000-0000-000000000000"}
        if code is not None:
            document["ErrorCode"] = code
        document |= {"ErrorMessage": text, "StatusCode": status}
    elif provider == "brevo":
        document = {"message": text} if code is None else {"code": code, "message": text}
    else:
        document = {"success": False, "errors": [text]}
    return Reply.json(status, document)


# Each provider's documented error code per status, where it has one.
FAULT_CODES: dict[str, dict[int, str | int]] = {
    "postmark": {401: 10, 422: 300, 429: 429, 503: 100},
    "mailjet": {401: "mj-0015"},
    "brevo": {
        400: "bad_request",
        401: "unauthorized",
        402: "not_enough_credits",
        403: "permission_denied",
        422: "unprocessable_entity",
        429: "too_many_requests",
    },
}


def fault_reply(provider: str, status: int, retry_after: int) -> Reply:
    """An injected failure, in the provider's error shape."""
    reason = REASONS.get(status, "Error")
    code = FAULT_CODES.get(provider, {}).get(status)
    reply = error_reply(provider, status, f"{reason} (injected fault)", code)
    if status in (429, 503):
        reply.headers.append(("Retry-After", str(retry_after)))
    return reply


def auth_reply(route: Route, status: int) -> Reply:
    """401 (bad or missing credential) or 403 (no permission) as ``route`` answers it."""
    provider, bad = route.provider, status == 401
    if route.name == "mailtrap_accounts":  # account API: its own shapes
        return Reply.json(
            status, {"error": "Incorrect API token"} if bad else {"errors": "Access forbidden"}
        )
    if route.name == "mailjet_apikey":  # REST v3 shape
        text = "API key authentication/authorization failure" if bad else "Access forbidden"
        return Reply.json(status, {"ErrorInfo": "", "ErrorMessage": text, "StatusCode": status})
    texts = {
        "sendgrid": (
            "The provided authorization grant is invalid, expired, or revoked",
            "access forbidden",
        ),
        "postmark": (
            "The Server Token you provided in the X-Postmark-Server-Token request header was "
            "invalid. Please verify that you are using a valid token.",
            "Forbidden",
        ),
        "mailjet": ("API key authentication/authorization failure", "Access forbidden"),
        "brevo": ("Key not found", "Unauthorized access: this key lacks the permission"),
        "mailtrap": ("Unauthorized", "Forbidden"),
    }
    codes = {"postmark": 10, "mailjet": "mj-0015", "brevo": "unauthorized"}
    if bad:
        return error_reply(provider, 401, texts[provider][0], codes.get(provider))
    code = "permission_denied" if provider == "brevo" else None
    return error_reply(provider, 403, texts[provider][1], code)


# ------------------------------------------------------------------ credentials


def _bearer(headers: dict[str, str]) -> list[str]:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return [value.strip()] if scheme.lower() == "bearer" else []


def _basic(headers: dict[str, str]) -> list[str]:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return []
    try:
        key, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return []
    return [key, secret]


def credentials(provider: str, headers: dict[str, str]) -> list[str]:
    """The credential values ``provider`` reads from ``headers`` (empty ones dropped)."""
    if provider == "sendgrid":
        values = _bearer(headers)
    elif provider == "postmark":
        values = [headers.get("x-postmark-server-token", "")]
    elif provider == "mailjet":
        values = _basic(headers)
    elif provider == "brevo":
        values = [headers.get("api-key", "")]
    else:
        values = [headers.get("api-token", ""), *_bearer(headers)]
    return [v for v in values if v]


# ------------------------------------------------------------------ provider answers


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def uuid_id(number: int, recipient: int = 0) -> str:
    """The UUID-shaped id of message ``number``'s ``recipient``-th recipient."""
    return f"00000000-0000-0000-{recipient:04x}-{number:012d}"


def _items(document: Any, key: str) -> list[Any]:
    items = document.get(key) if isinstance(document, dict) else None
    return items if isinstance(items, list) else []


def _emails(entries: Any) -> list[str]:
    """The addresses of a ``[{"email"|"Email": ...}]`` list."""
    if not isinstance(entries, list):
        return []
    out = []
    for entry in entries:
        if isinstance(entry, dict):
            out.append(str(entry.get("email", entry.get("Email", ""))))
    return out


def _limit(provider: str, count: int, most: int, status: int, text: str, code: Any) -> None:
    if count > most:
        raise Refused(error_reply(provider, status, text, code), "too_many")


Handler = Callable[[Any, int], Reply]  # (request JSON, number of its first message)


def sendgrid_send(document: Any, first: int) -> Reply:
    count = max(1, len(_items(document, "personalizations")))
    _limit(
        "sendgrid",
        count,
        1000,
        400,
        "The personalizations field can have at most 1000 items.",
        None,
    )
    settings = document.get("mail_settings")
    mode = settings.get("sandbox_mode") if isinstance(settings, dict) else None
    sandbox = isinstance(mode, dict) and mode.get("enable") is True
    reply = Reply(200 if sandbox else 202, messages=count)  # sandbox: validated, not sent
    reply.headers.append(("X-Message-Id", f"stub-sg-{first}"))
    return reply


def _postmark_item(item: Any, number: int) -> dict[str, Any]:
    to = item.get("To", "") if isinstance(item, dict) else ""
    return {
        "To": to,
        "SubmittedAt": _now(),
        "MessageID": uuid_id(number),
        "ErrorCode": 0,
        "Message": "OK",
    }


def postmark_send(document: Any, first: int) -> Reply:
    return Reply.json(200, _postmark_item(document, first), messages=1)


def _postmark_many(items: list[Any], first: int) -> Reply:
    _limit("postmark", len(items), 500, 422, "Too many batch messages.", 410)
    answers = [_postmark_item(item, first + k) for k, item in enumerate(items)]
    return Reply.json(200, answers, messages=len(items))


def postmark_batch(document: Any, first: int) -> Reply:
    return _postmark_many(document, first)


def postmark_batch_templates(document: Any, first: int) -> Reply:
    return _postmark_many(_items(document, "Messages"), first)


def mailjet_send(document: Any, first: int) -> Reply:
    messages = _items(document, "Messages")
    _limit("mailjet", len(messages), 50, 400, "Too many elements in Messages", "mj-0008")
    answers = []
    for k, message in enumerate(messages):
        number, index = first + k, 0
        answer: dict[str, Any] = {"Status": "success", "CustomID": ""}
        if isinstance(message, dict):
            answer["CustomID"] = str(message.get("CustomID", ""))
        for key in ("To", "Cc", "Bcc"):
            answer[key] = []
            for email in _emails(message.get(key) if isinstance(message, dict) else None):
                message_id = FIRST_MAILJET_ID + index * 2**32 + number
                answer[key].append(
                    {
                        "Email": email,
                        "MessageUUID": uuid_id(number, index),
                        "MessageID": message_id,
                        "MessageHref": f"https://api.mailjet.com/v3/REST/message/{message_id}",
                    }
                )
                index += 1
        answers.append(answer)
    return Reply.json(200, {"Messages": answers}, messages=max(1, len(messages)))


def brevo_send(document: Any, first: int) -> Reply:
    if "messageVersions" not in document:
        return Reply.json(201, {"messageId": BREVO_ID.format(first)}, messages=1)
    count = max(1, len(_items(document, "messageVersions")))
    ids = [BREVO_ID.format(first + k) for k in range(count)]
    return Reply.json(201, {"messageIds": ids}, messages=count)


def _mailtrap_ids(message: Any, number: int, sandbox: bool) -> list[str]:
    if sandbox:
        return [uuid_id(number)]
    count = sum(len(_emails(message.get(key))) for key in ("to", "cc", "bcc"))
    return [uuid_id(number, r) for r in range(max(1, count))]


def _mailtrap_send(document: Any, first: int, sandbox: bool) -> Reply:
    ids = _mailtrap_ids(document, first, sandbox)
    return Reply.json(200, {"success": True, "message_ids": ids}, messages=1)


def _mailtrap_batch(document: Any, first: int, sandbox: bool) -> Reply:
    requests = _items(document, "requests")
    _limit("mailtrap", len(requests), 500, 422, "'requests' must have at most 500 items", None)
    base = document.get("base") if isinstance(document.get("base"), dict) else {}
    responses = []
    for k, request in enumerate(requests):
        merged = {**base, **request} if isinstance(request, dict) else base
        ids = _mailtrap_ids(merged, first + k, sandbox)
        responses.append({"success": True, "message_ids": ids})
    return Reply.json(200, {"success": True, "responses": responses}, messages=len(requests))


def mailtrap_send(document: Any, first: int) -> Reply:
    return _mailtrap_send(document, first, sandbox=False)


def mailtrap_batch(document: Any, first: int) -> Reply:
    return _mailtrap_batch(document, first, sandbox=False)


def mailtrap_sandbox_send(document: Any, first: int) -> Reply:
    return _mailtrap_send(document, first, sandbox=True)


def mailtrap_sandbox_batch(document: Any, first: int) -> Reply:
    return _mailtrap_batch(document, first, sandbox=True)


def sendgrid_scopes(document: Any, first: int) -> Reply:
    return Reply.json(200, {"scopes": ["mail.send", "user.profile.read"]})


def postmark_server(document: Any, first: int) -> Reply:
    server = {
        "ID": 1,
        "Name": "unisend test server",
        "Color": "Blue",
        "SmtpApiActivated": True,
        "RawEmailEnabled": False,
        "DeliveryType": "Live",
        "ServerLink": "https://account.postmarkapp.com/servers/1/streams",
        "InboundAddress": "inbound@inbound.postmarkapp.com",
        "TrackOpens": False,
        "TrackLinks": "None",
    }
    return Reply.json(200, server)


def mailjet_apikey(document: Any, first: int) -> Reply:
    key = {
        "ACL": "",
        "CreatedAt": "2024-01-01T00:00:00Z",
        "ID": 1,
        "IsActive": True,
        "IsMaster": True,
        "Name": "Master API Key",
        "QuarantineValue": 0,
        "Runlevel": "Normal",
        "SkipSpamCheck": False,
        "UserID": 1,
    }
    return Reply.json(200, {"Count": 1, "Data": [key], "Total": 1})


def brevo_account(document: Any, first: int) -> Reply:
    account = {
        "email": "owner@example.com",
        "firstName": "Test",
        "lastName": "Owner",
        "companyName": "unisend tests",
        "plan": [{"type": "free", "creditsType": "sendLimit", "credits": 300}],
        "relay": {
            "enabled": True,
            "data": {"userName": "owner@example.com", "relay": "smtp-relay.brevo.com", "port": 587},
        },
    }
    return Reply.json(200, account)


def mailtrap_accounts(document: Any, first: int) -> Reply:
    return Reply.json(200, [{"id": 1000001, "name": "unisend tests", "access_levels": [1000]}])


@dataclass(frozen=True)
class Route:
    """One provider endpoint: its counter name, provider, method, path and answer."""

    name: str
    provider: str
    method: str
    path: str  # ``{inbox_id}`` matches digits
    handle: Handler
    body: type | None = dict  # the JSON type the body must be (None: no body read)

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.escape(self.path).replace(r"\{inbox_id\}", r"\d+") + "$")


ROUTES = [
    Route("sendgrid", "sendgrid", "POST", "/v3/mail/send", sendgrid_send),
    Route("sendgrid_scopes", "sendgrid", "GET", "/v3/scopes", sendgrid_scopes, None),
    Route("postmark", "postmark", "POST", "/email", postmark_send),
    Route("postmark_template", "postmark", "POST", "/email/withTemplate", postmark_send),
    Route("postmark_batch", "postmark", "POST", "/email/batch", postmark_batch, list),
    Route(
        "postmark_batch_templates",
        "postmark",
        "POST",
        "/email/batchWithTemplates",
        postmark_batch_templates,
    ),
    Route("postmark_server", "postmark", "GET", "/server", postmark_server, None),
    Route("mailjet", "mailjet", "POST", "/v3.1/send", mailjet_send),
    Route("mailjet_apikey", "mailjet", "GET", "/v3/REST/apikey", mailjet_apikey, None),
    Route("brevo", "brevo", "POST", "/v3/smtp/email", brevo_send),
    Route("brevo_account", "brevo", "GET", "/v3/account", brevo_account, None),
    Route("mailtrap", "mailtrap", "POST", "/api/send", mailtrap_send),
    Route("mailtrap_batch", "mailtrap", "POST", "/api/batch", mailtrap_batch),
    Route("mailtrap_sandbox", "mailtrap", "POST", "/api/send/{inbox_id}", mailtrap_sandbox_send),
    Route(
        "mailtrap_sandbox_batch",
        "mailtrap",
        "POST",
        "/api/batch/{inbox_id}",
        mailtrap_sandbox_batch,
    ),
    Route("mailtrap_accounts", "mailtrap", "GET", "/api/accounts", mailtrap_accounts, None),
]
_EXACT = {r.path: [x for x in ROUTES if x.path == r.path] for r in ROUTES if "{" not in r.path}
_PATTERNS = [(r.pattern, r) for r in ROUTES if "{" in r.path]


def find_routes(path: str) -> list[Route]:
    """The routes at ``path`` (any method)."""
    found = _EXACT.get(path)
    if found:
        return found
    return [route for pattern, route in _PATTERNS if pattern.match(path)]


# ------------------------------------------------------------------ the server's state


class Stats:
    """The counters ``GET /_stats`` shows."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.messages = 0
        self.by_route: collections.Counter[str] = collections.Counter()
        self.faults: collections.Counter[int] = collections.Counter()
        self.auth_refused: collections.Counter[int] = collections.Counter()
        self.bad_json = 0
        self.too_many = 0
        self.not_found = 0
        self.bad_method = 0
        self.server_errors = 0
        self.connections = 0
        self.bytes_in = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "messages": self.messages,
            "by_route": dict(self.by_route),
            "faults": {str(k): v for k, v in self.faults.items()},
            "auth_refused": {str(k): v for k, v in self.auth_refused.items()},
            "bad_json": self.bad_json,
            "too_many": self.too_many,
            "not_found": self.not_found,
            "bad_method": self.bad_method,
            "server_errors": self.server_errors,
            "connections": self.connections,
            "bytes_in": self.bytes_in,
        }


class Faults:
    """Which provider requests fail, and with what."""

    def __init__(self, rate: float, statuses: list[int], retry_after: int, seed: int) -> None:
        self.rate, self.statuses, self.retry_after = rate, statuses or [500], retry_after
        self.random = random.Random(seed)
        self.turn = 0

    def pick(self, rate: float, status: int | None) -> int | None:
        """The status this request fails with, or None."""
        if rate <= 0 or self.random.random() >= rate:
            return None
        if status is None:
            status = self.statuses[self.turn % len(self.statuses)]
            self.turn += 1
        return status


_FAULT_PREFIX = re.compile(r"/_fault/(\d{3})/([0-9.]+)(/.*)$")


class Api:
    """Everything one server process answers; :meth:`answer` is its only entry."""

    def __init__(self, faults: Faults, bad: set[str], forbidden: set[str]) -> None:
        self.stats = Stats()
        self.faults = faults
        self.bad, self.forbidden = bad, forbidden
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=REQUEST_LOG_SIZE)

    def answer(self, request: Request) -> Reply:
        try:
            reply, route_name = self._dispatch(request)
        except Exception as error:  # a bug here: say so loudly, never hang the client
            traceback.print_exc()
            self.stats.server_errors += 1
            reply, route_name = Reply.json(500, {"test_server_bug": repr(error)}), None
        if request.path.startswith("/_") and not request.path.startswith("/_fault/"):
            return reply  # control routes are not logged
        self.log.append(
            {
                "method": request.method,
                "path": request.path,
                "route": route_name,
                "status": reply.status,
                "headers": request.headers,
                "length": len(request.body),
            }
        )
        return reply

    def _dispatch(self, request: Request) -> tuple[Reply, str | None]:
        path, fault_status, fault_rate = request.path, None, self.faults.rate
        if path.startswith("/_fault/"):
            match = _FAULT_PREFIX.match(path)
            if match is None:
                self.stats.not_found += 1
                text = "use /_fault/<status>/<rate>/<path>"
                return Reply.json(404, {"errors": [{"message": text}]}), None
            fault_status, fault_rate, path = int(match[1]), float(match[2]), match[3]
        elif path.startswith("/_"):
            return self._control(request), None
        routes = find_routes(path)
        route = next((r for r in routes if r.method == request.method), None)
        if route is None:
            if routes:
                self.stats.bad_method += 1
                reply = Reply.json(405, {"errors": [{"message": "method not allowed"}]})
                reply.headers.append(("Allow", ", ".join(r.method for r in routes)))
                return reply, None
            self.stats.not_found += 1
            return Reply.json(404, {"errors": [{"message": "no such route"}]}), None
        return self._provider(route, request, fault_status, fault_rate), route.name

    def _provider(
        self, route: Route, request: Request, fault_status: int | None, fault_rate: float
    ) -> Reply:
        stats = self.stats
        stats.requests += 1
        status = self.faults.pick(fault_rate, fault_status)
        if status is not None:
            stats.faults[status] += 1
            return fault_reply(route.provider, status, self.faults.retry_after)
        values = credentials(route.provider, request.headers)
        verdict = 401 if not values or self.bad & set(values) else None
        if verdict is None and self.forbidden & set(values):
            verdict = 403
        if verdict is not None:
            stats.auth_refused[verdict] += 1
            return auth_reply(route, verdict)
        try:
            document = self._document(route, request.body)
            reply = route.handle(document, stats.messages + 1)
        except Refused as refused:
            setattr(stats, refused.counter, getattr(stats, refused.counter) + 1)
            return refused.reply
        stats.by_route[route.name] += 1
        stats.messages += reply.messages
        return reply

    @staticmethod
    def _document(route: Route, body: bytes) -> Any:
        if route.body is None:
            return None
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            document = None
        if not isinstance(document, route.body):
            if route.provider == "postmark":
                reply = error_reply("postmark", 422, "Provided request is not valid JSON.", 402)
            else:
                text = "Request body is not valid JSON of the expected shape"
                code = {"brevo": "bad_request"}.get(route.provider)
                reply = error_reply(route.provider, 400, text, code)
            raise Refused(reply, "bad_json")
        return document

    def _control(self, request: Request) -> Reply:
        if request.path == "/_stats" and request.method == "GET":
            return Reply.json(200, self.stats.as_dict())
        if request.path == "/_requests" and request.method == "GET":
            return Reply.json(200, list(self.log))
        if request.path == "/_reset" and request.method == "POST":
            self.stats.reset()
            self.log.clear()
            return Reply.json(200, {})
        self.stats.not_found += 1
        return Reply.json(404, {"errors": [{"message": "no such control route"}]})


# ------------------------------------------------------------------ HTTP/1.1 connections


class BadRequest(Exception):
    """The peer sent something that is not HTTP/1.1: answer ``status`` and close."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Connection:
    """One client connection: read requests in a loop, answer each in order."""

    def __init__(
        self,
        api: Api,
        latency: float,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.api, self.latency, self.reader, self.writer = api, latency, reader, writer
        self.outbox: asyncio.Queue[tuple[float, bytes, bool] | None] = asyncio.Queue()

    async def serve(self) -> None:
        self.api.stats.connections += 1
        sender = asyncio.ensure_future(self._send_in_order()) if self.latency > 0 else None
        try:
            await self._answer_requests()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        finally:
            if sender is not None:
                await self.outbox.put(None)
                await sender
            else:
                self.writer.close()

    async def _answer_requests(self) -> None:
        while True:
            try:
                request, close = await self._read_request()
            except BadRequest as bad:
                await self._emit(Reply(bad.status).encode(close=True), close=True)
                return
            if request is None:
                return
            await self._emit(self.api.answer(request).encode(close), close)
            if close:
                return

    async def _emit(self, payload: bytes, close: bool) -> None:
        if self.latency <= 0:
            self.writer.write(payload)
            if self.writer.transport.get_write_buffer_size() > 65536:
                await self.writer.drain()  # a slow reader: wait for it
            return
        due = asyncio.get_running_loop().time() + self.latency
        await self.outbox.put((due, payload, close))

    async def _send_in_order(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (item := await self.outbox.get()) is not None:
                due, payload, close = item
                await asyncio.sleep(max(0.0, due - loop.time()))
                self.writer.write(payload)
                await self.writer.drain()
                if close:
                    break
        except ConnectionError:
            pass
        finally:
            self.writer.close()

    async def _read_request(self) -> tuple[Request | None, bool]:
        stats, reader = self.api.stats, self.reader
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as over:
            raise BadRequest(431) from over
        except asyncio.IncompleteReadError as eof:
            if eof.partial.strip():
                raise BadRequest(400) from eof
            return None, True
        stats.bytes_in += len(head)
        request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest(400)
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in header_lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise BadRequest(400)
            key = name.lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = "keep-alive" in connection if version == "HTTP/1.0" else True
        close = not keep_alive or "close" in connection
        if headers.get("expect", "").lower() == "100-continue":
            self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked()
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError as error:
                raise BadRequest(400) from error
            if length < 0:
                raise BadRequest(400)
            body = await reader.readexactly(length)
            stats.bytes_in += length
        path = target.partition("?")[0]
        return Request(method, path, headers, body), close

    async def _read_chunked(self) -> bytes:
        stats, reader, body = self.api.stats, self.reader, bytearray()
        while True:
            try:
                line = await reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError as error:
                raise BadRequest(400) from error
            stats.bytes_in += len(line)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError as error:
                raise BadRequest(400) from error
            if size == 0:
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    stats.bytes_in += len(trailer)
                stats.bytes_in += 2
                return bytes(body)
            body += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise BadRequest(400)
            stats.bytes_in += size + 2


# ------------------------------------------------------------------ start-up


def _tls_context(ca_file: str) -> ssl.SSLContext:
    import trustme

    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "::1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca.cert_pem.write_to_path(ca_file)
    return context


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-port", type=int, default=None, help="also listen with TLS")
    parser.add_argument("--ca-file", default=None, help="where the TLS listener's CA goes")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-status", default="500,429")
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--fault-seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--bad-credential", action="append", default=[], metavar="VALUE")
    parser.add_argument("--forbidden-credential", action="append", default=[], metavar="VALUE")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace, loop_name: str) -> None:
    statuses = [int(s) for s in args.fault_status.split(",") if s.strip()]
    api = Api(
        Faults(args.fault_rate, statuses, args.retry_after, args.fault_seed),
        bad={"bad", *args.bad_credential},
        forbidden={"forbidden", *args.forbidden_credential},
    )
    latency = args.latency_ms / 1000.0

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await Connection(api, latency, reader, writer).serve()
        except asyncio.CancelledError:  # shutting down with the connection open: quietly
            writer.close()

    options: dict[str, Any] = {"limit": MAX_HEAD_BYTES, "backlog": 1024}
    servers = [await asyncio.start_server(on_connection, args.host, args.port, **options)]
    tls_port = ca_file = None
    if args.tls_port is not None:
        ca_file = args.ca_file or os.path.join(tempfile.mkdtemp(prefix="http-server-"), "ca.pem")
        tls = await asyncio.start_server(
            on_connection, args.host, args.tls_port, ssl=_tls_context(ca_file), **options
        )
        servers.append(tls)
        tls_port = tls.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    started = {
        "pid": os.getpid(),
        "host": args.host,
        "port": servers[0].sockets[0].getsockname()[1],
        "tls_port": tls_port,
        "ca_file": ca_file,
        "loop": loop_name,
    }
    print(json.dumps(started), flush=True)
    await stop
    for server in servers:
        server.close()
    print(f"http_server stopped: {json.dumps(api.stats.as_dict())}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    loop_name = "asyncio"
    if args.loop != "asyncio":
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            loop_name = "uvloop"
        except ImportError:
            if args.loop == "uvloop":
                raise
    asyncio.run(serve(args, loop_name))


if __name__ == "__main__":
    main()
