"""A small provider server for the spool's multi-process tests: it speaks SendGrid's
``/v3/mail/send`` and Postmark's ``/email`` and ``/email/batch``, counts every accepted
message by subject (so duplicates are visible), and fails a seeded fraction of requests
with 503 (before accepting anything) to inject faults. Under ``/rejects/`` every request is
refused with SendGrid's 400 for an invalid address.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorder:
    """What the server accepted, and its fault setting."""

    fault_rate: float = 0.0
    seed: int = 7
    accepted: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    faults: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def decide_fault(self) -> bool:
        with self._lock:
            self.requests += 1
            fault = self._random.random() < self.fault_rate
            self.faults += fault
            return fault

    def accept(self, subjects: list[str]) -> None:
        with self._lock:
            self.accepted.update(subjects)


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if self.path.startswith("/rejects/"):
                error = {"message": "Does not contain a valid address.", "field": "to"}
                self._answer(400, {"errors": [error]})
                return
            if recorder.decide_fault():
                self._answer(503, {"message": "injected fault"}, {"Retry-After": "0"})
                return
            if self.path == "/v3/mail/send":
                recorder.accept([body["subject"]])
                self._answer(202, None, {"X-Message-Id": uuid.uuid4().hex})
            elif self.path == "/email":
                recorder.accept([body["Subject"]])
                self._answer(200, _postmark_ok(body))
            elif self.path == "/email/batch":
                recorder.accept([item["Subject"] for item in body])
                self._answer(200, [_postmark_ok(item) for item in body])
            else:
                self._answer(404, {"message": "unknown path"})

    return Handler


def _postmark_ok(item: dict[str, object]) -> dict[str, object]:
    return {
        "To": item.get("To"),
        "SubmittedAt": "2026-12-03T10:00:00.0000000Z",
        "MessageID": str(uuid.uuid4()),
        "ErrorCode": 0,
        "Message": "OK",
    }


@contextmanager
def recording_server(fault_rate: float = 0.0, seed: int = 7) -> Iterator[Recorder]:
    """Run a :class:`Recorder` server on a free loopback port for the block."""
    recorder = Recorder(fault_rate=fault_rate, seed=seed)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    server.daemon_threads = True
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
