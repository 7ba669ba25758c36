"""The project's HTTP test server itself (``http_server.py``), run as the subprocess every
HTTP test uses and spoken to with plain httpx and raw sockets: each provider's answers
(checked against the vendors' response schemas where a spec exists), credentials, faults,
limits, HTTP/1.1 framing, latency, TLS, counters and the request log."""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from servers.http import HttpStub, start_stub

SPECS = Path(__file__).resolve().parents[1] / "data" / "specs"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

SENDGRID = {"Authorization": "Bearer SG.good-key"}
POSTMARK = {"X-Postmark-Server-Token": "pm-good-token", "Accept": "application/json"}
MAILJET = {"Authorization": "Basic " + base64.b64encode(b"mj-key:mj-secret").decode()}
BREVO = {"api-key": "xkeysib-good"}
MAILTRAP = {"Api-Token": "mt-good-token"}


#: One client for the plain-HTTP requests (building one loads a CA bundle: ~0.1 s).
CLIENT = httpx.Client(verify=False, trust_env=False, timeout=10.0)


@pytest.fixture(scope="module", autouse=True)
def close_client() -> Iterator[None]:
    yield
    CLIENT.close()


def post(stub: HttpStub, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    return CLIENT.post(f"{stub.url}{path}", json=body, headers=headers)


@cache
def mailtrap_schema(name: str) -> jsonschema.Draft202012Validator:
    """Schema ``name`` of Mailtrap's transactional OpenAPI file (tests/data/specs)."""
    path = SPECS / "mailtrap" / "email-sending-transactional.openapi.yml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


# ---------------------------------------------------------------- provider answers


def test_sendgrid_202_with_a_message_id_per_request(stub: HttpStub) -> None:
    one = {"personalizations": [{"to": [{"email": "a@example.com"}]}]}
    three = {"personalizations": [{"to": [{"email": f"{n}@example.com"}]} for n in "abc"]}
    first = post(stub, "/v3/mail/send", one, SENDGRID)
    second = post(stub, "/v3/mail/send", three, SENDGRID)
    third = post(stub, "/v3/mail/send", one, SENDGRID)
    assert first.status_code == 202 and first.content == b""
    # numbered per message: a request's id carries the number of its first personalization
    assert [r.headers["x-message-id"] for r in (first, second, third)] == [
        "stub-sg-1",
        "stub-sg-2",
        "stub-sg-5",
    ]
    sandbox = {**one, "mail_settings": {"sandbox_mode": {"enable": True}}}
    assert post(stub, "/v3/mail/send", sandbox, SENDGRID).status_code == 200
    stats = stub.stats()
    assert stats["by_route"] == {"sendgrid": 4} and stats["messages"] == 6


def test_postmark_single_template_and_batches_echo_to(stub: HttpStub) -> None:
    single = post(
        stub, "/email", {"To": "Ann <ann@example.com>", "From": "x@example.com"}, POSTMARK
    )
    assert single.status_code == 200
    body = single.json()
    assert body["To"] == "Ann <ann@example.com>" and body["ErrorCode"] == 0
    assert body["Message"] == "OK" and UUID.match(body["MessageID"])
    assert body["MessageID"].endswith("000000000001")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$", body["SubmittedAt"])
    template = post(stub, "/email/withTemplate", {"To": "t@example.com", "TemplateId": 1}, POSTMARK)
    assert template.json()["MessageID"].endswith("000000000002")
    batch = post(stub, "/email/batch", [{"To": f"{n}@example.com"} for n in "ab"], POSTMARK)
    assert [(i["To"], i["MessageID"][-1]) for i in batch.json()] == [
        ("a@example.com", "3"),
        ("b@example.com", "4"),
    ]
    messages = {"Messages": [{"To": "c@example.com", "TemplateAlias": "x"}]}
    with_templates = post(stub, "/email/batchWithTemplates", messages, POSTMARK)
    assert [i["To"] for i in with_templates.json()] == ["c@example.com"]
    assert stub.stats()["by_route"] == {
        "postmark": 1,
        "postmark_template": 1,
        "postmark_batch": 1,
        "postmark_batch_templates": 1,
    }


def test_mailjet_echoes_every_recipient_with_its_own_ids(stub: HttpStub) -> None:
    message = {
        "To": [{"Email": "a@example.com"}, {"Email": "b@example.com"}],
        "Cc": [{"Email": "c@example.com"}],
        "Bcc": [{"Email": "d@example.com"}],
        "CustomID": "order-1",
    }
    other = {"To": [{"Email": "e@example.com"}]}
    response = post(stub, "/v3.1/send", {"Messages": [message, other]}, MAILJET)
    assert response.status_code == 200
    first, second = response.json()["Messages"]
    assert first["Status"] == "success" and first["CustomID"] == "order-1"
    assert [r["Email"] for k in ("To", "Cc", "Bcc") for r in first[k]] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
    ]
    everyone = [r for m in (first, second) for k in ("To", "Cc", "Bcc") for r in m[k]]
    assert len({r["MessageID"] for r in everyone}) == 5
    assert len({r["MessageUUID"] for r in everyone}) == 5
    assert all(isinstance(r["MessageID"], int) and r["MessageID"] > 2**58 - 1 for r in everyone)
    assert first["To"][0]["MessageHref"].endswith(f"/v3/REST/message/{first['To'][0]['MessageID']}")
    assert second["To"][0]["MessageID"] == first["To"][0]["MessageID"] + 1  # numbered per message
    assert stub.stats()["messages"] == 2


def test_brevo_201_with_one_id_per_message_or_version(stub: HttpStub) -> None:
    single = post(stub, "/v3/smtp/email", {"to": [{"email": "a@example.com"}]}, BREVO)
    assert single.status_code == 201
    assert single.json() == {"messageId": "<202401010000.1@smtp-relay.mailin.fr>"}
    versions = {"messageVersions": [{"to": [{"email": "b@example.com"}]}] * 2}
    assert post(stub, "/v3/smtp/email", versions, BREVO).json() == {
        "messageIds": [
            "<202401010000.2@smtp-relay.mailin.fr>",
            "<202401010000.3@smtp-relay.mailin.fr>",
        ]
    }


def test_mailtrap_sending_gives_one_id_per_recipient_the_sandbox_one(stub: HttpStub) -> None:
    message = {
        "to": [{"email": "a@example.com"}, {"email": "b@example.com"}],
        "bcc": [{"email": "c@example.com"}],
    }
    sent = post(stub, "/api/send", message, MAILTRAP)
    assert sent.status_code == 200
    mailtrap_schema("SentResponse").validate(sent.json())
    ids = sent.json()["message_ids"]
    assert len(ids) == 3 and len(set(ids)) == 3 and all(UUID.match(i) for i in ids)
    assert ids[0] == "00000000-0000-0000-0000-000000000001"
    sandbox = post(stub, "/api/send/12345", message, {"Authorization": "Bearer mt-good"})
    assert sandbox.json() == {"success": True, "message_ids": [UUID_OF(2)]}
    batch = {
        "base": {"to": [{"email": "base@example.com"}]},
        "requests": [{}, {"to": [{"email": "x@example.com"}, {"email": "y@example.com"}]}],
    }
    answered = post(stub, "/api/batch", batch, MAILTRAP).json()
    mailtrap_schema("BatchSentResponse").validate(answered)
    assert [len(r["message_ids"]) for r in answered["responses"]] == [1, 2]  # key replaced
    sandbox_batch = post(stub, "/api/batch/7", batch, MAILTRAP).json()
    assert [r["message_ids"] for r in sandbox_batch["responses"]] == [[UUID_OF(5)], [UUID_OF(6)]]
    assert post(stub, "/api/send/not-a-number", message, MAILTRAP).status_code == 404
    assert stub.stats()["by_route"] == {
        "mailtrap": 1,
        "mailtrap_sandbox": 1,
        "mailtrap_batch": 1,
        "mailtrap_sandbox_batch": 1,
    }


def UUID_OF(number: int) -> str:
    return f"00000000-0000-0000-0000-{number:012d}"


# ---------------------------------------------------------------- credentials

KEY_CHECKS = [
    ("/v3/scopes", lambda c: {"Authorization": f"Bearer {c}"}, "scopes"),
    ("/server", lambda c: {"X-Postmark-Server-Token": c}, "Name"),
    (
        "/v3/REST/apikey",
        lambda c: {"Authorization": "Basic " + base64.b64encode(f"key:{c}".encode()).decode()},
        "Data",
    ),
    ("/v3/account", lambda c: {"api-key": c}, "email"),
    ("/api/accounts", lambda c: {"Api-Token": c}, None),
]


@pytest.mark.parametrize(("path", "auth", "field"), KEY_CHECKS, ids=[c[0] for c in KEY_CHECKS])
def test_key_checks_200_401_403(stub: HttpStub, path: str, auth: Any, field: str | None) -> None:
    def get(headers: dict[str, str]) -> httpx.Response:
        return CLIENT.get(f"{stub.url}{path}", headers=headers)

    good = get(auth("a-good-key"))
    assert good.status_code == 200
    if field is None:  # Mailtrap: a list of accounts
        assert good.json()[0]["id"]
    else:
        assert field in good.json()
    assert "a-good-key" not in good.text  # the secret is never echoed
    assert get(auth("bad")).status_code == 401
    assert get({}).status_code == 401
    forbidden = get(auth("forbidden"))
    assert forbidden.status_code == 403 and forbidden.content  # Postmark's: its edge's HTML
    stats = stub.stats()
    assert stats["auth_refused"] == {"401": 2, "403": 1}
    assert stats["requests"] == 4 and sum(stats["by_route"].values()) == 1
    assert stats["messages"] == 0


@pytest.mark.parametrize(
    ("path", "headers", "body"),
    [
        ("/v3/mail/send", {"Authorization": "Bearer bad"}, {"errors": [{"field": None}]}),
        ("/email", {"X-Postmark-Server-Token": "bad"}, {"ErrorCode": 10}),
        ("/v3.1/send", {"Authorization": "Basic " + base64.b64encode(b"bad:s").decode()}, {}),
        ("/v3/smtp/email", {"api-key": "bad"}, {"code": "unauthorized"}),
        ("/api/send", {"Authorization": "Bearer bad"}, {"success": False}),
    ],
)
def test_send_routes_refuse_a_bad_credential_in_the_providers_shape(
    stub: HttpStub, path: str, headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = post(stub, path, {}, headers)
    assert response.status_code == 401
    document = response.json()
    for key, value in body.items():
        if isinstance(value, list):
            assert document[key][0].items() >= value[0].items()
        else:
            assert document[key] == value
    assert stub.stats()["by_route"] == {}


def test_bad_and_forbidden_credentials_are_configurable() -> None:
    with start_stub("--bad-credential", "revoked", "--forbidden-credential", "ip-blocked") as s:
        assert post(s, "/v3/smtp/email", {}, {"api-key": "revoked"}).status_code == 401
        refused = post(s, "/v3/smtp/email", {}, {"api-key": "ip-blocked"})
        assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
        assert post(s, "/v3/smtp/email", {}, {"api-key": "bad"}).status_code == 401  # still
        assert post(s, "/v3/smtp/email", {}, {"api-key": "fine"}).status_code == 201


# ---------------------------------------------------------------- faults and refusals


@pytest.mark.parametrize("status", [429, 503, 500, 401, 422])
def test_fault_prefix(stub: HttpStub, status: int) -> None:
    response = post(stub, f"/_fault/{status}/1.0/api/send", {}, MAILTRAP)
    assert response.status_code == status
    assert response.headers.get("retry-after") == ("1" if status in (429, 503) else None)
    mailtrap_schema("SendEmailErrorResponse").validate(response.json())
    assert response.json()["success"] is False
    assert post(stub, "/_fault/500/0/api/send", {}, MAILTRAP).status_code == 200  # rate 0
    stats = stub.stats()
    assert stats["faults"] == {str(status): 1} and stats["requests"] == 2
    assert stats["by_route"] == {"mailtrap": 1}


def test_fault_bodies_take_each_providers_shape(stub: HttpStub) -> None:
    assert post(stub, "/_fault/422/1/email", {}, POSTMARK).json()["ErrorCode"] == 300
    assert post(stub, "/_fault/401/1/v3.1/send", {}, MAILJET).json()["ErrorCode"] == "mj-0015"
    assert post(stub, "/_fault/402/1/v3/smtp/email", {}, BREVO).json()["code"] == (
        "not_enough_credits"
    )
    message = post(stub, "/_fault/500/1/v3/mail/send", {}, SENDGRID).json()["errors"][0]
    assert "injected fault" in message["message"]
    edge = post(stub, "/_fault/403/1/email", {}, POSTMARK)  # Postmark's 403 is its edge
    assert edge.headers["content-type"] == "text/html"


def test_fault_rate_is_reproducible_and_takes_the_statuses_in_turn() -> None:
    options = ("--fault-rate", "0.5", "--fault-status", "503,401", "--retry-after", "7")
    outcomes = []
    for _ in range(2):
        with start_stub(*options, "--fault-seed", "3") as s:
            statuses = [post(s, "/v3/smtp/email", {}, BREVO).status_code for _ in range(20)]
            outcomes.append(statuses)
            faulted = [code for code in statuses if code != 201]
            stats = s.stats()
        assert faulted[:4] == [503, 401, 503, 401]
        assert stats["faults"] == {"503": faulted.count(503), "401": faulted.count(401)}
        assert stats["by_route"] == {"brevo": statuses.count(201)}
    assert outcomes[0] == outcomes[1]
    with start_stub(*options, "--fault-rate", "1") as s:
        assert post(s, "/v3/smtp/email", {}, BREVO).headers["retry-after"] == "7"


def test_bodies_that_are_not_json_of_the_routes_shape(stub: HttpStub) -> None:
    def raw(path: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        return CLIENT.post(f"{stub.url}{path}", content=content, headers=headers)

    assert raw("/v3/mail/send", b"{nope", SENDGRID).status_code == 400
    postmark = raw("/email", b"not json", POSTMARK)
    assert postmark.status_code == 422 and postmark.json()["ErrorCode"] == 402
    assert raw("/email/batch", b"{}", POSTMARK).status_code == 422  # must be an array
    assert raw("/api/send", b"[]", MAILTRAP).status_code == 400  # must be an object
    assert stub.stats()["bad_json"] == 4 and stub.stats()["by_route"] == {}


@pytest.mark.parametrize(
    ("path", "headers", "body", "status"),
    [
        ("/v3/mail/send", SENDGRID, {"personalizations": [{}] * 1001}, 400),
        ("/email/batch", POSTMARK, [{}] * 501, 422),
        ("/v3.1/send", MAILJET, {"Messages": [{}] * 51}, 400),
        ("/api/batch", MAILTRAP, {"requests": [{}] * 501}, 422),
    ],
)
def test_batches_over_the_documented_size_are_refused(
    stub: HttpStub, path: str, headers: dict[str, str], body: Any, status: int
) -> None:
    assert post(stub, path, body, headers).status_code == status
    smaller = body[:-1] if isinstance(body, list) else {k: v[:-1] for k, v in body.items()}
    assert post(stub, path, smaller, headers).status_code in (200, 202)
    most = len(body if isinstance(body, list) else next(iter(body.values()))) - 1
    stats = stub.stats()
    assert stats["too_many"] == 1 and stats["messages"] == most


def test_unknown_paths_404_and_wrong_methods_405(stub: HttpStub) -> None:
    assert CLIENT.get(f"{stub.url}/v3/nothing").status_code == 404
    wrong = CLIENT.get(f"{stub.url}/v3/mail/send", headers=SENDGRID)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    stats = stub.stats()
    assert stats["not_found"] == 1 and stats["bad_method"] == 1 and stats["requests"] == 0


# ---------------------------------------------------------------- HTTP/1.1 framing


def exchange(stub: HttpStub, payload: bytes, replies: int) -> list[bytes]:
    """Send raw bytes; read ``replies`` responses (by Content-Length) off the socket."""
    with socket.create_connection((stub.host, stub.port), timeout=10.0) as sock:
        sock.sendall(payload)
        buffer, answers = b"", []
        while len(answers) < replies:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end >= 0:
                head = buffer[:head_end]
                match = re.search(rb"Content-Length: (\d+)", head)
                total = head_end + 4 + int(match[1] if match else 0)
                if head.startswith(b"HTTP/1.1 100"):
                    buffer = buffer[head_end + 4 :]
                    continue
                if len(buffer) >= total:
                    answers.append(buffer[:total])
                    buffer = buffer[total:]
                    continue
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
    return answers


def request_bytes(path: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nApi-Token: t\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


def test_pipelined_requests_are_answered_in_order_on_one_connection(stub: HttpStub) -> None:
    body = json.dumps({"to": [{"email": "a@example.com"}]}).encode()
    before = stub.stats()["connections"]
    answers = exchange(stub, request_bytes("/api/send", body) * 3, replies=3)
    ids = [json.loads(a.split(b"\r\n\r\n", 1)[1])["message_ids"][0] for a in answers]
    assert ids == [UUID_OF(1), UUID_OF(2), UUID_OF(3)]
    assert stub.stats()["connections"] == before + 2  # this one and the stats request


def test_chunked_body_with_expect_100_continue(stub: HttpStub) -> None:
    body = json.dumps({"to": [{"email": "a@example.com"}]}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:5], body[5:]))
    payload = (
        b"POST /api/send?x=1 HTTP/1.1\r\nHost: x\r\nApi-Token: t\r\n"
        b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    (answer,) = exchange(stub, payload, replies=1)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert stub.stats()["by_route"] == {"mailtrap": 1}
    assert stub.stats()["bytes_in"] >= len(payload)


def test_http_1_0_and_connection_close_end_the_connection(stub: HttpStub) -> None:
    for payload in (
        b"GET /_stats HTTP/1.0\r\n\r\n",
        b"GET /_stats HTTP/1.1\r\nConnection: close\r\n\r\n",
    ):
        with socket.create_connection((stub.host, stub.port), timeout=10.0) as sock:
            sock.sendall(payload)
            received = b""
            while chunk := sock.recv(65536):  # ends: the server closed the connection
                received += chunk
        assert received.startswith(b"HTTP/1.1 200") and b"Connection: close" in received


def test_oversized_head_is_431_and_garbage_400(stub: HttpStub) -> None:
    big = b"GET /_stats HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    assert exchange(stub, big, replies=1)[0].startswith(b"HTTP/1.1 431")
    assert exchange(stub, b"NONSENSE\r\n\r\n", replies=1)[0].startswith(b"HTTP/1.1 400")


# ---------------------------------------------------------------- latency and TLS


def test_latency_delays_every_answer_and_overlaps() -> None:
    with start_stub("--latency-ms", "300") as slow:
        times: list[float] = []

        def one() -> None:
            started = time.perf_counter()
            post(slow, "/v3/smtp/email", {}, BREVO).raise_for_status()
            times.append(time.perf_counter() - started)

        started = time.perf_counter()
        threads = [threading.Thread(target=one) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        assert len(times) == 6 and min(times) >= 0.3
        assert elapsed < 6 * 0.3 / 2  # concurrent delays overlap
        assert slow.stats()["messages"] == 6


def test_tls_listener_is_trusted_with_its_ca_only(https_stub: HttpStub) -> None:
    assert https_stub.ca_file and Path(https_stub.ca_file).is_file()
    context = ssl.create_default_context(cafile=https_stub.ca_file)
    response = httpx.post(
        f"{https_stub.https_url}/v3/smtp/email", json={}, headers=BREVO, verify=context
    )
    assert response.status_code == 201
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.post(f"{https_stub.https_url}/v3/smtp/email", json={}, headers=BREVO)


# ---------------------------------------------------------------- control routes


def test_request_log_and_reset(stub: HttpStub) -> None:
    post(stub, "/v3/mail/send", {"personalizations": [{}]}, SENDGRID)
    CLIENT.get(f"{stub.url}/server", headers={"X-Postmark-Server-Token": "bad"})
    log = stub.requests()
    assert [(e["method"], e["path"], e["route"], e["status"]) for e in log] == [
        ("POST", "/v3/mail/send", "sendgrid", 202),
        ("GET", "/server", "postmark_server", 401),
    ]
    assert log[0]["headers"]["authorization"] == "Bearer SG.good-key"
    assert log[0]["length"] == len(json.dumps({"personalizations": [{}]}, separators=(",", ":")))
    stub.reset()
    assert stub.requests() == []
    stats = stub.stats()
    assert stats["requests"] == 0 and stats["messages"] == 0 and stats["by_route"] == {}
    # numbering starts again after a reset
    again = post(stub, "/v3/mail/send", {"personalizations": [{}]}, SENDGRID)
    assert again.headers["x-message-id"] == "stub-sg-1"
    assert stub.stderr() == ""  # no server bug so far
