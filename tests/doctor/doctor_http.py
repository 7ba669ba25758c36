"""A small HTTP server on loopback that answers the providers' read-only key checks.

(The project's shared HTTP test server is being written in tests/servers at the same
time; this one is local to the doctor's tests and only knows the key-check endpoints.)

A request whose credential header value contains ``good`` gets 200, ``limited`` 403,
``ipblock`` Brevo's 401 "unrecognised IP address", anything else 401. Every request is
recorded as ``(method, path, headers)``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

KEY_PATHS = {"/v3/scopes", "/server", "/v3/REST/apikey", "/v3/account", "/api/accounts"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = urlsplit(self.path).path  # a proxy gets the absolute URL
        self.server.requests.append(("GET", path, headers))
        if path not in KEY_PATHS:
            self._reply(404, {"error": "not found"})
            return
        credential = " ".join(
            headers.get(name, "")
            for name in ("authorization", "x-postmark-server-token", "api-key")
        )
        if "Basic " in credential:  # Mailjet: base64(public:secret)
            import base64

            credential = base64.b64decode(credential.split("Basic ")[1]).decode()
        if "good" in credential:
            self._reply(200, {"ok": True})
        elif "limited" in credential:
            self._reply(403, {"errors": "Access forbidden"})
        elif "ipblock" in credential:
            self._reply(401, {"code": "unauthorized", "message": "unrecognised IP address 1.2.3.4"})
        else:
            self._reply(401, {"error": "Incorrect API token"})

    def do_POST(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.requests.append(("POST", self.path, headers))
        self._reply(500, {"error": "the doctor must never POST"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[tuple[str, str, dict[str, str]]]


class KeyServer:
    """The server in a thread; ``base_url`` is ``http://127.0.0.1:PORT``."""

    def __init__(self) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.requests = []
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> KeyServer:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """Every request so far."""
        return self.server.requests
