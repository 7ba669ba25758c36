"""Message, Address and Attachment validation."""

from __future__ import annotations

import pytest

from unisend import Address, Attachment, InvalidMessage, Message


def test_address_forms_and_str() -> None:
    assert str(Address("a@b.example")) == "a@b.example"
    assert str(Address("a@b.example", "Ann")) == "Ann <a@b.example>"
    assert str(Address("a@b.example", "Doe, Ann")) == '"Doe, Ann" <a@b.example>'
    parsed = Address.parse('"Doe, \\"A\\"" <a@b.example>')
    assert (parsed.name, parsed.email) == ('Doe, "A"', "a@b.example")


def test_idn_domain_goes_out_as_punycode() -> None:
    address = Address("jörg@bücher.example", "Jörg")
    assert address.needs_smtputf8
    plain = Address("info@bücher.example")
    assert plain.ascii_email == "info@xn--bcher-kva.example"
    assert not plain.needs_smtputf8


@pytest.mark.parametrize(
    "bad",
    ["", "nope", "a@", "@b.example", "a b@c.example", "a@b..example", "a@-b.example", "a@b\n.c"],
)
def test_invalid_addresses_raise(bad: str) -> None:
    with pytest.raises(InvalidMessage):
        Message(to=bad, text="x")


def test_to_is_required_and_accepts_a_single_string() -> None:
    assert [a.email for a in Message(to="a@b.example", text="x").to] == ["a@b.example"]
    with pytest.raises(InvalidMessage, match="to must name"):
        Message(cc="a@b.example", text="x")


def test_content_is_required() -> None:
    with pytest.raises(InvalidMessage, match="text, html or template_id"):
        Message(to="a@b.example")


@pytest.mark.parametrize("header", ["From", "to", "Subject", "Message-ID", "Content-Type", "Bcc"])
def test_owned_headers_are_refused_with_the_field_to_use(header: str) -> None:
    with pytest.raises(InvalidMessage, match=f"header '{header}' is set by unisend"):
        Message(to="a@b.example", text="x", headers={header: "v"})


def test_header_name_must_be_printable_ascii() -> None:
    with pytest.raises(InvalidMessage, match="header name"):
        Message(to="a@b.example", text="x", headers={"X Bad": "v"})


def test_tab_allowed_in_subject_only() -> None:
    assert Message(to="a@b.example", text="x", subject="a\tb").subject == "a\tb"
    with pytest.raises(InvalidMessage, match="U\\+0009"):
        Message(to="a@b.example", text="x", tags=["a\tb"])


def test_inline_attachment_needs_content_id() -> None:
    with pytest.raises(InvalidMessage, match="content_id"):
        Attachment("logo.png", b"x", inline=True)
    assert Attachment("logo.png", b"x", inline=True, content_id="<logo>").content_id == "logo"


def test_attachment_type_is_guessed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4")
    attachment = Attachment.from_path(path)
    assert (attachment.filename, attachment.mimetype, attachment.content) == (
        "report.pdf",
        "application/pdf",
        b"%PDF-1.4",
    )


def test_send_at_must_be_aware() -> None:
    from datetime import datetime

    with pytest.raises(InvalidMessage, match="timezone-aware"):
        Message(to="a@b.example", text="x", send_at=datetime(2030, 1, 1))


def test_invalid_message_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Message(to="nope", text="x")


def test_a_parsed_address_string_is_shared_and_errors_still_name_the_field() -> None:
    # Bulk mail names the same sender in every message: it is parsed once.
    first = Message(sender="Ann <ann@example.com>", to="bob@example.com", text="x")
    second = Message(sender="Ann <ann@example.com>", to="bob@example.com", text="y")
    assert first.sender is second.sender
    assert first.to[0] is second.to[0]
    assert first.sender == Address("ann@example.com", "Ann")
    # A failure is not cached, and it names the field it came from each time.
    for field in ("sender", "to", "reply_to"):
        with pytest.raises(InvalidMessage, match=rf"^invalid message: {field}: "):
            Message(**{"to": "bob@example.com", "text": "x", field: "not an address"})
    # A domain checked once stays checked with a different local part, and a bad one
    # under a cached domain is still refused.
    assert Message(to="carl@example.com", text="x").to[0].email == "carl@example.com"
    with pytest.raises(InvalidMessage, match="local part"):
        Message(to="c..arl@example.com", text="x")


def test_the_local_part_alphabet_is_rfc_5322_atext_plus_any_non_ascii() -> None:
    # The pattern is written by exclusion (cheap to compile); this is the set it replaces.
    import re

    from unisend._message import _ATEXT

    spelled_out = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]")
    compact = re.compile(_ATEXT)
    differ = [
        hex(point)
        for point in range(0x110000)
        if (spelled_out.fullmatch(chr(point)) is None) != (compact.fullmatch(chr(point)) is None)
    ]
    assert differ == []


def test_the_first_messages_built_at_once_in_threads_are_all_valid() -> None:
    """The schema is built on first use; threads racing to build it all get a working
    validator (checked in a fresh interpreter, where nothing was built yet)."""
    import subprocess
    import sys

    code = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from unisend import Message, InvalidMessage\n"
        "def build(i):\n"
        "    m = Message(sender='a@example.com', to=f'b{i}@example.com', text='t')\n"
        "    try:\n"
        "        Message(to='bad', text='t')\n"
        "    except InvalidMessage:\n"
        "        return m.to[0].email\n"
        "with ThreadPoolExecutor(8) as pool:\n"
        "    emails = list(pool.map(build, range(64)))\n"
        "assert emails == [f'b{i}@example.com' for i in range(64)], emails\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
