"""SMTP servers that break off half-way (a scripted server on a raw loopback socket):
the step the dialogue was at fails, the rest are skipped."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from unisend import diagnose


class ScriptedServer:
    """Greets, then answers each command by its verb from ``script``: a reply line,
    ``"close"`` (hang up) or ``"silent"`` (never answer)."""

    def __init__(self, script: dict[str, str]) -> None:
        self.script = script
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.commands: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"220 scripted ESMTP\r\n")
            reader = conn.makefile("rb")
            for raw in reader:
                verb = raw.decode().split()[0].upper()
                self.commands.append(verb)
                action = self.script.get(verb, "250 OK")
                if action == "close":
                    return
                if action == "silent":
                    reader.read()  # until the client goes away
                    return
                conn.sendall(action.encode() + b"\r\n")

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def scripted() -> Iterator[type[ScriptedServer]]:
    made: list[ScriptedServer] = []

    class Made(ScriptedServer):
        def __init__(self, script: dict[str, str]) -> None:
            super().__init__(script)
            made.append(self)

    yield Made
    for server in made:
        server.close()


def test_server_hanging_up_at_auth_fails_auth(scripted: type[ScriptedServer]) -> None:
    server = scripted({"EHLO": "250-scripted\r\n250 AUTH PLAIN LOGIN", "AUTH": "close"})
    url = f"smtp://u:pw@127.0.0.1:{server.port}?security=none&allow_insecure_auth=true"
    diagnosis = diagnose(url, timeout=2)
    auth = diagnosis.check("auth")
    assert auth is not None and auth.status == "fail", str(diagnosis)
    assert "broke off" in auth.summary and auth.fix and "dropped the connection" in auth.fix
    assert server.commands == ["EHLO", "AUTH"]


def test_server_silent_after_starttls_fails_tls_within_timeout(
    scripted: type[ScriptedServer],
) -> None:
    server = scripted({"EHLO": "250-scripted\r\n250 STARTTLS", "STARTTLS": "silent"})
    diagnosis = diagnose(f"smtp://127.0.0.1:{server.port}", timeout=1)
    tls = diagnosis.check("tls")
    assert tls is not None and tls.status == "fail", str(diagnosis)
    assert "no answer within the time budget" in tls.summary and tls.fix
    for id in ("certificate", "auth"):
        check = diagnosis.check(id)
        assert check is not None and check.status == "skip"


def test_starttls_refused_fails_tls(scripted: type[ScriptedServer]) -> None:
    server = scripted(
        {"EHLO": "250-scripted\r\n250 STARTTLS", "STARTTLS": "454 4.7.0 TLS not available"}
    )
    tls = diagnose(f"smtp://127.0.0.1:{server.port}", timeout=2).check("tls")
    assert tls is not None and tls.status == "fail" and "454" in tls.summary and tls.fix


def test_ehlo_refused_fails_greeting(scripted: type[ScriptedServer]) -> None:
    server = scripted({"EHLO": "502 5.5.1 no EHLO here"})
    greeting = diagnose(f"smtp://127.0.0.1:{server.port}", timeout=2).check("greeting")
    assert greeting is not None and greeting.status == "fail" and "EHLO" in greeting.summary


def test_only_xoauth2_offered_fails_auth(scripted: type[ScriptedServer]) -> None:
    server = scripted({"EHLO": "250-scripted\r\n250 AUTH XOAUTH2"})
    url = f"smtp://u:pw@127.0.0.1:{server.port}?security=none&allow_insecure_auth=true"
    auth = diagnose(url, timeout=2).check("auth")
    assert auth is not None and auth.status == "fail" and "XOAUTH2" in auth.summary
    assert "AUTH" not in server.commands
