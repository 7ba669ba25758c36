"""Header material far beyond 998 octets reaches a real SMTP server (aiosmtpd, which
answers "500 Line too long" past 1001 octets) folded, and decodes back exactly: a long
display name, subject, header value or filename is never a route failure (issue 9,
item 7)."""

from __future__ import annotations

from email import policy
from email.header import decode_header, make_header
from email.parser import Parser

import pytest
from servers.smtp import SMTPServer

from unisend import Address, Attachment, Message
from unisend.transports.smtp import SMTPTransport

NAME = "Very Long Display Name " * 130  # about 3,000 characters
ATOM = "x" * 3000


@pytest.mark.parametrize("smtputf8", [False, True], ids=["ascii", "smtputf8"])
def test_long_header_material_is_accepted_and_decodes_back(
    smtp_plain: SMTPServer, smtputf8: bool
) -> None:
    local = "jörg" if smtputf8 else "ann"
    message = Message(
        sender=Address(f"{local}@example.com", NAME),
        to=[Address("bob@example.com", ATOM), Address("carl@example.com", "Zoë " * 700)],
        subject="s" * 3000,
        headers={"X-" + "h" * 74: "v" * 3000},
        text="x",
        attachments=[Attachment("f" * 1500 + ".txt", b"data")],
    )
    with SMTPTransport(smtp_plain.host, smtp_plain.port, security="none") as transport:
        transport.send(message)
    [received] = smtp_plain.messages
    assert max(len(line) for line in received.data.split(b"\r\n")) <= 998
    # decoded as text first: with SMTPUTF8 the header bytes are raw UTF-8
    parsed = Parser(policy=policy.default).parsestr(received.data.decode("utf-8"))
    assert parsed["Subject"] == "s" * 3000
    assert parsed["X-" + "h" * 74] == "v" * 3000
    # compliant RFC 2047 decoding of each display name (the stdlib's modern address
    # parser inserts spaces between adjacent encoded words)
    raw = received.data.split(b"\r\n\r\n", 1)[0].decode("utf-8").replace("\r\n ", " ")
    headers = dict(line.split(": ", 1) for line in raw.split("\r\n"))
    from_phrase = headers["From"].rsplit("<", 1)[0].strip()
    decoded = (
        from_phrase
        if not from_phrase.startswith("=?")
        else str(make_header(decode_header(from_phrase)))
    )
    assert decoded.strip('"') == NAME.strip()
    to_names = [a.display_name.replace(" ", "") for a in parsed["To"].addresses]
    assert to_names == [ATOM, "Zoë" * 700]
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "f" * 1500 + ".txt"
