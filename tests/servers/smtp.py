"""Loopback SMTP servers on aiosmtpd, with trustme certificates, for any test.

Each :class:`SMTPServer` runs its own event loop in a thread, listens on 127.0.0.1 on a
free port, and records what it saw in :attr:`SMTPServer.recorder`: every accepted
message (envelope and raw bytes), the number of connections, every command verb in
order and every AUTH attempt.

Flavours (all the same class, configured by keywords):

- plain: ``SMTPServer()``
- STARTTLS + AUTH required: ``SMTPServer(ca=ca, tls="starttls", auth=True)``
- implicit TLS + AUTH: ``SMTPServer(ca=ca, tls="implicit", auth=True)``
- faults: ``SMTPServer(faults=Faults(greeting="421 ...", data="451 ...", ...))``
- more AUTH mechanisms: ``SMTPServer(..., cram_md5=True, xoauth2_token="ya29.token")``
  adds CRAM-MD5 (RFC 2195) and XOAUTH2 (which checks the SASL string, and answers a bad
  token as Gmail does: a 334 JSON challenge, then 535 after the empty response)

Fixtures (import them into a conftest.py, e.g. ``from servers.smtp import *``):
``smtp_ca`` (session trustme CA), ``smtp_server_factory`` (build any flavour; all are
stopped at teardown), ``smtp_plain``, ``smtp_starttls``, ``smtp_implicit_tls``.

Clients trust the CA with ``ssl_context=smtp_ca.client_context()`` or
``ca_file=smtp_ca.ca_file``; the credentials are :data:`USER` / :data:`PASSWORD`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import os
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

USER = "mailer-user"
PASSWORD = "s3cret-Passw0rd!"
HOST = "127.0.0.1"


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]
    rcpt_options: list[str]

    def parsed(self) -> EmailMessage:
        """The message parsed by the stdlib's modern parser."""
        message = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Recorder:
    """What a server saw; read it from the test thread."""

    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    #: Command verbs in arrival order, e.g. ["EHLO", "STARTTLS", "EHLO", "AUTH", ...].
    commands: list[str] = field(default_factory=list)
    #: (mechanism, login, success) for every AUTH attempt.
    auth: list[tuple[str, str, bool]] = field(default_factory=list)
    #: The decoded XOAUTH2 initial responses, and what the client sent after a 334 error.
    xoauth2: list[bytes] = field(default_factory=list)
    xoauth2_after_challenge: list[bytes] = field(default_factory=list)
    #: The argument of every EHLO / HELO.
    ehlo_names: list[str] = field(default_factory=list)
    #: Messages whose body arrived but whose connection was then dropped unanswered.
    dropped_after_data: int = 0
    #: The most client connections that were open at the same time.
    max_concurrent: int = 0


@dataclass
class Faults:
    """Replies that replace the normal ones (full reply lines, e.g. ``"451 4.3.0 later"``)."""

    #: Sent instead of the 220 greeting; the connection is then closed.
    greeting: str | None = None
    #: Reply to MAIL FROM.
    mail: str | None = None
    #: Recipient address -> reply to its RCPT TO.
    rcpt: dict[str, str] = field(default_factory=dict)
    #: Reply to the end of DATA.
    data: str | None = None
    #: Close the connection after the message body arrives, without replying.
    drop_after_data: bool = False
    #: Seconds to wait before replying to the end of DATA.
    data_delay: float = 0.0
    #: Reply to every AUTH command (e.g. Microsoft's "535 5.7.139 ...").
    auth: str | None = None
    #: Reply to STARTTLS instead of starting TLS (e.g. "454 4.7.0 TLS not available").
    starttls: str | None = None


class TestCA:
    """A trustme CA and the servers' certificate (for 127.0.0.1 and localhost unless
    ``hostnames`` says otherwise)."""

    __test__ = False  # not a test class, despite the name

    def __init__(
        self, directory: str | None = None, hostnames: tuple[str, ...] = (HOST, "localhost")
    ) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert(*hostnames)
        self._directory = directory or tempfile.mkdtemp(prefix="unisend-ca-")
        self.ca_file = os.path.join(self._directory, "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)

    def server_context(self, max_tls: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        """A server context presenting the certificate; ``max_tls`` caps the version."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        if max_tls is not None:
            context.maximum_version = max_tls
        return context

    def client_context(self, min_tls: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> ssl.SSLContext:
        """A verifying client context that trusts only this CA."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        context.minimum_version = min_tls
        return context


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_AUTH(
        self, smtp: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> Any:
        reply = self.server.faults.auth
        if reply is None:
            return MISSING  # go on with the mechanism
        self.server.recorder.auth.append((args[0], "", False))
        return reply

    async def handle_MAIL(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.server.auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if self.server.faults.mail:
            return self.server.faults.mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.server.faults.rcpt.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        faults = self.server.faults
        if faults.data_delay:
            await asyncio.sleep(faults.data_delay)
        if faults.drop_after_data:
            self.server.recorder.dropped_after_data += 1
            assert smtp.transport is not None
            smtp.transport.close()
            await asyncio.sleep(3600)  # cancelled by connection_lost
        if faults.data:
            return faults.data
        data = envelope.original_content or b""
        self.server.recorder.messages.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                data=data,
                mail_options=list(envelope.mail_options),
                rcpt_options=list(envelope.rcpt_options),
            )
        )
        return "250 2.0.0 OK queued"


class _MechanismsHandler(_Handler):
    """Adds CRAM-MD5 and XOAUTH2 (aiosmtpd maps ``auth_CRAM__MD5`` to ``CRAM-MD5``)."""

    async def auth_CRAM__MD5(self, smtp: SMTP, args: list[str]) -> AuthResult:
        challenge = f"<{os.urandom(8).hex()}@mx.unisend.test>".encode()
        response = await smtp.challenge_auth(challenge)
        if response is MISSING:
            return AuthResult(success=False, handled=True)
        assert isinstance(response, bytes)
        login, _, digest = response.rpartition(b" ")
        secret = self.server.password.encode("utf-8")
        expected = hmac.new(secret, challenge, "md5").hexdigest().encode()
        ok = login == USER.encode() and hmac.compare_digest(digest, expected)
        self.server.recorder.auth.append(("CRAM-MD5", login.decode("utf-8", "replace"), ok))
        return AuthResult(success=ok, handled=False, auth_data=LoginPassword(login, b""))

    async def auth_XOAUTH2(self, smtp: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 2:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(
                    success=False, handled=False, message="501 5.5.2 Cannot decode base64"
                )
        else:
            response = await smtp.challenge_auth("")
            if response is MISSING:
                return AuthResult(success=False, handled=True)
            assert isinstance(response, bytes)
            blob = response
        recorder = self.server.recorder
        recorder.xoauth2.append(blob)
        parts = blob.split(b"\x01")
        login = parts[0][len(b"user=") :] if parts[0].startswith(b"user=") else b""
        expected = f"auth=Bearer {self.server.xoauth2_token}".encode()
        ok = len(parts) == 4 and parts[2:] == [b"", b""] and login == USER.encode()
        ok = ok and parts[1] == expected
        recorder.auth.append(("XOAUTH2", login.decode("utf-8", "replace"), ok))
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(login, b""))
        # Gmail's answer to a bad token: the error as base64 JSON, then 535 after the
        # client's empty response.
        error = {"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"}
        await smtp.push("334 " + base64.b64encode(json.dumps(error).encode()).decode())
        assert smtp._reader is not None
        recorder.xoauth2_after_challenge.append(await smtp._reader.readline())
        return AuthResult(
            success=False,
            handled=False,
            message="535 5.7.8 Username and Password not accepted. Learn more",
        )


class _RecordingSMTP(SMTP):
    """aiosmtpd session that counts connections, records verbs and injects faults."""

    def __init__(self, server: SMTPServer, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._unisend_server = server
        self._smtp_methods = {
            verb: self._recorded(verb, method) for verb, method in self._smtp_methods.items()
        }

    def _recorded(self, verb: str, method: Callable[[str], Any]) -> Callable[[str], Any]:
        async def run(arg: str) -> None:
            server = self._unisend_server
            server.recorder.commands.append(verb)
            if verb in ("EHLO", "HELO"):
                server.recorder.ehlo_names.append(arg)
            if verb == "STARTTLS" and server.faults.starttls:
                await self.push(server.faults.starttls)
                return
            await method(arg)

        return run

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:  # not the STARTTLS re-entry
            server = self._unisend_server
            server.recorder.connections += 1
            server._live.add(self)
            server.recorder.max_concurrent = max(server.recorder.max_concurrent, len(server._live))
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._unisend_server._live.discard(self)
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        greeting = self._unisend_server.faults.greeting
        if greeting:
            await self.push(greeting)
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()


class SMTPServer:
    """An aiosmtpd server on 127.0.0.1 in a background thread; use as a context manager.

    ``tls``: None (plain), ``"starttls"`` or ``"implicit"``; ``auth=True`` requires AUTH
    (PLAIN, LOGIN) with :data:`USER` / :data:`PASSWORD` before MAIL, and over a plain
    server still advertises AUTH. ``max_tls`` caps the server's TLS version;
    ``auth_exclude`` drops mechanisms (e.g. ``["PLAIN"]`` to force LOGIN); ``timeout``
    closes idle connections after that many seconds. ``password`` replaces
    :data:`PASSWORD` (e.g. a non-ASCII one); ``cram_md5=True`` also offers CRAM-MD5 and
    ``xoauth2_token="..."`` offers XOAUTH2, accepting that bearer token for :data:`USER`.
    """

    def __init__(
        self,
        *,
        ca: TestCA | None = None,
        tls: str | None = None,
        auth: bool = False,
        max_tls: ssl.TLSVersion | None = None,
        auth_exclude: list[str] | None = None,
        smtputf8: bool = True,
        timeout: float = 60.0,
        faults: Faults | None = None,
        password: str = PASSWORD,
        cram_md5: bool = False,
        xoauth2_token: str | None = None,
    ) -> None:
        if tls is not None and ca is None:
            raise ValueError("a TLS server needs ca=TestCA()")
        self.ca = ca
        self.tls = tls
        self.auth = auth
        self.faults = faults or Faults()
        self.recorder = Recorder()
        self.password = password
        self.xoauth2_token = xoauth2_token
        self._handler_class = _MechanismsHandler if cram_md5 or xoauth2_token else _Handler
        excluded = list(auth_exclude or [])
        if not cram_md5:
            excluded.append("CRAM-MD5")
        if xoauth2_token is None:
            excluded.append("XOAUTH2")
        self.host = HOST
        self.port = 0
        self._live: set[_RecordingSMTP] = set()
        context = ca.server_context(max_tls) if ca is not None and tls else None
        self._implicit = context if tls == "implicit" else None
        kwargs: dict[str, Any] = {
            "hostname": "mx.unisend.test",
            "enable_SMTPUTF8": smtputf8,
            "timeout": timeout,
            "tls_context": context if tls == "starttls" else None,
            "auth_exclude_mechanism": excluded,
        }
        # aiosmtpd does not know an implicit-TLS session is encrypted and warns about
        # auth_required without auth_require_tls, so outside STARTTLS the handler's
        # MAIL hook enforces AUTH instead.
        kwargs.update(
            authenticator=self._authenticate,
            auth_required=auth and tls == "starttls",
            auth_require_tls=tls == "starttls",
        )
        self._kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None

    def _authenticate(
        self, smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == USER.encode()
            and data.password == self.password.encode("utf-8")
        )
        login = data.login.decode("utf-8", "replace") if isinstance(data, LoginPassword) else ""
        self.recorder.auth.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False)

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> SMTPServer:
        """Start listening; returns self."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()
        failure: list[BaseException] = []

        def factory() -> _RecordingSMTP:
            return _RecordingSMTP(self, self._handler_class(self), loop=loop, **self._kwargs)

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(factory, HOST, 0, ssl=self._implicit)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="smtp-test-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def _call(self, func: Callable[[], Any]) -> None:
        """Run ``func`` on the server loop and wait for it."""
        assert self._loop is not None

        async def run() -> None:
            func()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def drop_connections(self) -> None:
        """Close every open client connection from the server side (no reply)."""

        def drop() -> None:
            for session in list(self._live):
                if session.transport is not None:
                    session.transport.close()

        self._call(drop)

    def stop(self) -> None:
        """Stop listening, close every connection and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for session in list(self._live):
                if session.transport is not None:
                    session.transport.close()
            await asyncio.sleep(0.01)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- convenience -----------------------------------------------------------------

    @property
    def open_connections(self) -> int:
        """Client connections currently open."""
        return len(self._live)

    @property
    def messages(self) -> list[Received]:
        """Messages accepted so far."""
        return self.recorder.messages

    def __repr__(self) -> str:
        return f"<SMTPServer {self.host}:{self.port} tls={self.tls} auth={self.auth}>"


# -- pytest fixtures -------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A trustme CA for the whole session; its PEM is at ``.ca_file``."""
    return TestCA(str(tmp_path_factory.mktemp("smtp-ca")))


@pytest.fixture
def smtp_server_factory(smtp_ca: TestCA) -> Iterator[Callable[..., SMTPServer]]:
    """``factory(**SMTPServer kwargs)`` -> a started server (ca defaults to smtp_ca)."""
    servers: list[SMTPServer] = []

    def factory(**kwargs: Any) -> SMTPServer:
        if kwargs.get("tls"):
            kwargs.setdefault("ca", smtp_ca)
        server = SMTPServer(**kwargs).start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_plain(smtp_server_factory: Callable[..., SMTPServer]) -> SMTPServer:
    """A plain server without AUTH."""
    return smtp_server_factory()


@pytest.fixture
def smtp_starttls(smtp_server_factory: Callable[..., SMTPServer]) -> SMTPServer:
    """STARTTLS offered, AUTH (PLAIN, LOGIN) required and only after STARTTLS."""
    return smtp_server_factory(tls="starttls", auth=True)


@pytest.fixture
def smtp_implicit_tls(smtp_server_factory: Callable[..., SMTPServer]) -> SMTPServer:
    """Implicit TLS (SMTPS), AUTH required."""
    return smtp_server_factory(tls="implicit", auth=True)


__all__ = [
    "HOST",
    "PASSWORD",
    "USER",
    "Faults",
    "Received",
    "Recorder",
    "SMTPServer",
    "TestCA",
    "smtp_ca",
    "smtp_implicit_tls",
    "smtp_plain",
    "smtp_server_factory",
    "smtp_starttls",
]
