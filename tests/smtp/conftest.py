"""SMTP tests run against the loopback aiosmtpd servers of ``tests/servers/smtp.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from servers.smtp import (  # noqa: F401 - fixtures re-exported for this directory
    PASSWORD,
    USER,
    SMTPServer,
    TestCA,
    smtp_ca,
    smtp_implicit_tls,
    smtp_plain,
    smtp_server_factory,
    smtp_starttls,
)

from unisend.transports.smtp import SMTPTransport


@pytest.fixture
def transport_for(
    smtp_ca: TestCA,  # noqa: F811 - the fixture imported above
) -> Iterator[Callable[..., SMTPTransport]]:
    """``transport_for(server, **overrides)``: a transport configured for ``server``
    (security matching its TLS flavour, the test CA trusted, credentials when it wants
    AUTH), closed at teardown."""
    made: list[SMTPTransport] = []

    def make(server: SMTPServer, **overrides: Any) -> SMTPTransport:
        security = {"starttls": "starttls", "implicit": "ssl", None: "none"}[server.tls]
        kwargs: dict[str, Any] = {"security": security, "timeout": 5.0}
        if server.tls:
            kwargs["ca_file"] = smtp_ca.ca_file
        if server.auth:
            kwargs.update(username=USER, password=PASSWORD)
        kwargs.update(overrides)
        transport = SMTPTransport(server.host, server.port, **kwargs)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()
