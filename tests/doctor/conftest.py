"""Fixtures of the doctor's tests: a real DNS server with test zones, aiosmtpd servers
with chosen certificates and AUTH replies, listeners that never greet or never accept,
and a key-check HTTP server. Everything listens on loopback only."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from doctor_certs import ServerCert, issue
from doctor_dns import DnsServer
from doctor_http import KeyServer
from servers.smtp import PASSWORD, USER, SMTPServer

SPF_LEAF = [("TXT", "v=spf1 ip4:192.0.2.0/24 -all")]
DKIM_KEY = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC1"

#: The zones the DNS server answers (names without the trailing dot).
ZONES: dict[str, list[tuple[str, str]]] = {
    # a domain with everything in order, for a SendGrid route
    "good.test": [("MX", "10 mx.good.test"), ("TXT", "v=spf1 include:sendgrid.net -all")],
    "mx.good.test": [("A", "127.0.0.1")],
    "mail.good.test": [("A", "127.0.0.1")],
    "_dmarc.good.test": [("TXT", "v=DMARC1; p=reject; rua=mailto:dmarc@good.test")],
    "s1._domainkey.good.test": [("CNAME", "s1.domainkey.u1.wl1.sendgrid.net")],
    "s1.domainkey.u1.wl1.sendgrid.net": [("TXT", DKIM_KEY)],
    "s2._domainkey.good.test": [("TXT", DKIM_KEY)],
    "default._domainkey.good.test": [("TXT", DKIM_KEY)],
    "sendgrid.net": [("TXT", "v=spf1 ip4:167.89.0.0/17 -all")],
    "sub.good.test": [("A", "127.0.0.1")],
    # two SPF records
    "twospf.test": [
        ("MX", "10 mx.good.test"),
        ("TXT", "v=spf1 include:sendgrid.net -all"),
        ("TXT", "v=spf1 ip4:192.0.2.1 -all"),
    ],
    # SPF needing 11 lookups through nested includes: 2 + 4 + 4 + mx
    "deep.test": [
        ("MX", "10 mx.good.test"),
        ("TXT", "v=spf1 include:a.deep.test include:b.deep.test mx -all"),
    ],
    "a.deep.test": [
        ("TXT", "v=spf1 " + " ".join(f"include:a{i}.deep.test" for i in range(1, 5)) + " -all")
    ],
    "b.deep.test": [
        ("TXT", "v=spf1 " + " ".join(f"include:b{i}.deep.test" for i in range(1, 5)) + " -all")
    ],
    **{f"{x}{i}.deep.test": SPF_LEAF for x in "ab" for i in range(1, 5)},
    # +all
    "plusall.test": [("MX", "10 mx.good.test"), ("TXT", "v=spf1 include:sendgrid.net +all")],
    # ?all, and no all at all
    "neutral.test": [("MX", "10 mx.good.test"), ("TXT", "v=spf1 include:sendgrid.net ?all")],
    # the provider include missing; DMARC p=none; no DKIM keys
    "noinclude.test": [("MX", "10 mx.good.test"), ("TXT", "v=spf1 ip4:192.0.2.1 -all")],
    "_dmarc.noinclude.test": [("TXT", "v=DMARC1; p=none; rua=mailto:d@noinclude.test")],
    # three void lookups; an include without SPF
    "voids.test": [
        ("MX", "10 mx.good.test"),
        ("TXT", "v=spf1 a:gone1.test a:gone2.test mx:gone3.test -all"),
    ],
    "badinclude.test": [("MX", "10 mx.good.test"), ("TXT", "v=spf1 include:nospf.test -all")],
    "nospf.test": [("TXT", "google-site-verification=abc")],
    # no DMARC, no SPF, and the MX variants
    "nodmarc.test": [("MX", "10 mx.good.test")],
    "nomx.test": [("TXT", "hello")],
    "aonly.test": [("A", "127.0.0.1")],
    "nullmx.test": [("MX", "0 .")],
    # DMARC variants
    "dmarc2.test": [("MX", "10 mx.good.test")],
    "_dmarc.dmarc2.test": [("TXT", "v=DMARC1; p=reject"), ("TXT", "v=DMARC1; p=none")],
    "badp.test": [("MX", "10 mx.good.test")],
    "_dmarc.badp.test": [("TXT", "v=DMARC1; p=maybe")],
    "revoked.test": [("MX", "10 mx.good.test"), ("TXT", "v=spf1 include:sendgrid.net -all")],
    "s1._domainkey.revoked.test": [("TXT", "v=DKIM1; p=")],
    # SMTP host names for the blocklist: 127.0.0.2 is listed, 127.0.0.3 refused
    "listed.test": [("A", "127.0.0.2")],
    "refused.test": [("A", "127.0.0.3")],
    "2.0.0.127.zen.spamhaus.org": [("A", "127.0.0.2")],
    "3.0.0.127.zen.spamhaus.org": [("A", "127.255.255.254")],
    "3.0.0.127.bl.spamcop.net": [("A", "127.255.255.254")],
    "3.0.0.127.b.barracudacentral.org": [("A", "127.255.255.254")],
}


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsServer]:
    """The DNS server with :data:`ZONES`."""
    with DnsServer(ZONES) as server:
        yield server


@pytest.fixture(scope="session")
def nameserver(dns_server: DnsServer) -> str:
    """``IP:PORT`` of the test DNS server."""
    return dns_server.nameserver


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """The CA the doctor is told to trust (``ca_file``)."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The trusted CA as a PEM file."""
    path = tmp_path_factory.mktemp("doctor-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def certs(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ServerCert]:
    """Server certificates by kind."""
    directory = tmp_path_factory.mktemp("doctor-certs")
    stranger = trustme.CA()
    hosts = ("127.0.0.1", "localhost", "mail.good.test")
    return {
        "good": issue(ca, directory, "good", hosts),
        "soon": issue(ca, directory, "soon", hosts, not_after=dt.timedelta(days=5)),
        "expired": issue(
            ca,
            directory,
            "expired",
            hosts,
            not_before=dt.timedelta(days=-60),
            not_after=dt.timedelta(days=-2),
        ),
        "wrong-host": issue(ca, directory, "wrong-host", ("other.test",)),
        "untrusted": issue(stranger, directory, "untrusted", hosts),
    }


class DoctorSMTPServer(SMTPServer):
    """The shared aiosmtpd test server, with AUTH answering a chosen reply."""

    def __init__(self, *, auth_reply: str | None = None, **kwargs: Any) -> None:
        self.auth_reply = auth_reply
        super().__init__(**kwargs)

    def _authenticate(
        self, smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if self.auth_reply is None:
            return super()._authenticate(smtp, session, envelope, mechanism, data)
        self.recorder.auth.append((mechanism, data.login.decode(), False))
        return AuthResult(success=False, handled=False, message=self.auth_reply)


@pytest.fixture
def smtp(certs: dict[str, ServerCert]) -> Iterator[Callable[..., DoctorSMTPServer]]:
    """``smtp(cert="good", tls="starttls", auth=True, **kwargs)``: a started server."""
    started: list[DoctorSMTPServer] = []

    def make(cert: str = "good", **kwargs: Any) -> DoctorSMTPServer:
        kwargs.setdefault("tls", "starttls")
        kwargs.setdefault("auth", True)
        server = DoctorSMTPServer(ca=certs[cert], **kwargs)  # type: ignore[arg-type]
        started.append(server.start())  # type: ignore[arg-type]
        return server

    yield make
    for server in started:
        server.stop()


def smtp_url(
    server: SMTPServer,
    ca_file: str,
    *,
    scheme: str = "smtp",
    host: str = "127.0.0.1",
    user: str = USER,
    password: str = PASSWORD,
    query: str = "",
) -> str:
    """The URL of ``server`` with the test CA trusted."""
    extra = f"&{query}" if query else ""
    return f"{scheme}://{user}:{password}@{host}:{server.port}?ca_file={ca_file}{extra}"


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on: bound but not listening, so connections are refused
    and no other process can take the port during the test."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    yield int(holder.getsockname()[1])
    holder.close()


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port whose SYNs are dropped: a listener with a full accept queue that never
    accepts, so a connect hangs as behind a firewall."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue (backlog 0 still queues one or two)
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    """The key-check HTTP server."""
    with KeyServer() as server:
        yield server


__all__ = ["ZONES", "DoctorSMTPServer", "smtp_url"]


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's proxy settings must not send loopback test traffic elsewhere."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
