"""A loopback HTTP server that answers every request with the status, content type and
body a test sets, where ``{headers}`` in the body becomes the request's headers: the
worst case of a proxy or API that echoes the credentials back.

    def test_it(echo: EchoServer) -> None:  # the fixture is in conftest.py
        echo.answer(401, '{"message": "denied for {headers}"}')
        transport = BrevoTransport(api_key="k", base_url=echo.url)

``silent`` is a second listener that accepts connections and never answers (a read
timeout after the request was sent).
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, content_type, template = self.server.reply
        body = template.replace("{headers}", str(dict(self.headers.items()))).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    reply: tuple[int, str, str] = (200, "application/json", "{}")


class EchoServer:
    """A running echo server (see the module docstring)."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._silent = socket.create_server(("127.0.0.1", 0), backlog=64)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, a ``base_url``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def silent_url(self) -> str:
        """A ``base_url`` whose server accepts the connection and never answers."""
        return f"http://127.0.0.1:{self._silent.getsockname()[1]}"

    def answer(self, status: int, body: str, content_type: str = "application/json") -> None:
        """Answer every request from now on with ``status`` and ``body``."""
        self._server.reply = (status, content_type, body)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._silent.close()


def refused_url() -> str:
    """A loopback ``base_url`` where nothing listens (the port was just freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


__all__ = ["EchoServer", "refused_url"]
