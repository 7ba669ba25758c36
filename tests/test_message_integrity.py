"""Validation that holds (issue 9, items 5 to 9): a built Message cannot be changed, lone
surrogates and over-long header material are refused at construction (or folded so
that no line passes 998 octets), several addresses in one string get a hint, and
``Attachment.from_path`` fills its type and fails with the contract's error."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest

import unisend
from unisend import Address, Attachment, InvalidMessage, Message
from unisend._mime import render
from unisend.transports.sendgrid import SendGridTransport

MakeMessage = Callable[..., Message]
REPO_ROOT = Path(unisend.__file__).resolve().parent.parent
EVIL = "X\r\nBcc: x@evil.example"


def full_message(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "sender": "Ann <ann@example.com>",
        "to": ["Bob <bob@example.com>", "carl@example.com"],
        "cc": "cc@example.com",
        "bcc": "bcc@example.com",
        "reply_to": "help@example.com",
        "subject": "Hi",
        "text": "Hello",
        "html": "<p>Hello</p>",
        "attachments": [Attachment("a.txt", b"x", "text/plain")],
        "headers": {"X-Order": "1"},
        "tags": ["t1"],
        "metadata": {"k": "v"},
    }
    fields.update(overrides)
    return Message(**fields)


def wire_lines(data: bytes) -> list[bytes]:
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    return data.split(b"\r\n")


# -- item 5: a built message cannot change ----------------------------------------------


MUTATIONS: dict[str, Callable[[Message], Any]] = {
    "headers[k]=v": lambda m: m.headers.__setitem__(EVIL, "v"),
    "headers.update": lambda m: m.headers.update({EVIL: "v"}),  # type: ignore[attr-defined]
    "headers.setdefault": lambda m: m.headers.setdefault(EVIL, "v"),  # type: ignore[attr-defined]
    "headers |=": lambda m: m.headers.__ior__({EVIL: "v"}),  # type: ignore[attr-defined]
    "del headers[k]": lambda m: m.headers.__delitem__("X-Order"),  # type: ignore[attr-defined]
    "headers.pop": lambda m: m.headers.pop("X-Order"),  # type: ignore[attr-defined]
    "headers.clear": lambda m: m.headers.clear(),  # type: ignore[attr-defined]
    "metadata[k]=v": lambda m: m.metadata.__setitem__("k", "v\r\nBcc: x@evil.example"),  # type: ignore[attr-defined]
    "tags.append": lambda m: m.tags.append("t\r\nX: y"),  # type: ignore[attr-defined]
    "tags +=": lambda m: m.tags.__iadd__(["t2"]),  # type: ignore[attr-defined]
    "tags[0]=": lambda m: m.tags.__setitem__(0, "x\ny"),  # type: ignore[attr-defined]
    "to.append": lambda m: m.to.append(Address.model_construct(email="x@evil.example\r\nX: y")),  # type: ignore[attr-defined]
    "to.insert": lambda m: m.to.insert(0, Address("x@evil.example")),  # type: ignore[attr-defined]
    "cc.extend": lambda m: m.cc.extend([Address("x@evil.example")]),  # type: ignore[attr-defined]
    "bcc.clear": lambda m: m.bcc.clear(),  # type: ignore[attr-defined]
    "reply_to[0]=": lambda m: m.reply_to.__setitem__(0, Address("x@evil.example")),  # type: ignore[attr-defined]
    "attachments.append": lambda m: m.attachments.append(Attachment("b.txt", b"y")),  # type: ignore[attr-defined]
    "to.sort": lambda m: m.to.sort(),  # type: ignore[attr-defined]
    "to.pop": lambda m: m.to.pop(),  # type: ignore[attr-defined]
    "to.remove": lambda m: m.to.remove(m.to[0]),  # type: ignore[attr-defined]
    "to.reverse": lambda m: m.to.reverse(),  # type: ignore[attr-defined]
    "to *=": lambda m: m.to.__imul__(2),  # type: ignore[attr-defined]
}


@pytest.mark.parametrize("mutate", list(MUTATIONS))
def test_every_container_refuses_change_after_construction(mutate: str) -> None:
    message = full_message()
    before = message.model_dump()
    with pytest.raises(TypeError, match="cannot be changed"):
        MUTATIONS[mutate](message)
    assert message.model_dump() == before


def test_nested_template_data_and_provider_options_are_frozen_too() -> None:
    shared = {"items": [{"name": "a"}], "user": {"first": "Ann"}}
    message = Message(
        sender="a@example.com",
        to="b@example.com",
        template_id="d-1",
        template_data=shared,
        provider_options={"sendgrid": {"asm": {"group_id": 1}}},
    )
    shared["items"].append({"name": "late"})  # the caller's own data stays the caller's
    assert message.template_data is not None
    assert message.template_data == {"items": [{"name": "a"}], "user": {"first": "Ann"}}
    with pytest.raises(TypeError):
        message.template_data["items"].append("x")
    with pytest.raises(TypeError):
        message.template_data["user"]["first"] = "Eve"
    with pytest.raises(TypeError):
        message.provider_options["sendgrid"]["asm"]["group_id"] = 2


def test_injection_attempt_after_construction_reaches_no_wire_format() -> None:
    message = full_message()
    for mutate in MUTATIONS.values():
        with pytest.raises(TypeError):
            mutate(message)
    data = render(message).data
    assert b"evil" not in data and b"Bcc" not in data
    payload = SendGridTransport(api_key="k").payload(message)
    assert "evil" not in json.dumps(payload)
    assert payload["headers"] == {"X-Order": "1"}


def test_reading_is_unchanged() -> None:
    message = full_message()
    assert message.to[0].email == "bob@example.com"
    assert [a.email for a in message.to] == ["bob@example.com", "carl@example.com"]
    assert message.headers["X-Order"] == "1"
    assert dict(message.metadata) == {"k": "v"}
    assert message.tags == ["t1"] and list(message.tags) == ["t1"]
    assert message.metadata == {"k": "v"}
    assert isinstance(message.headers, dict) and isinstance(message.tags, list)
    assert json.dumps(message.headers) == '{"X-Order": "1"}'
    assert json.dumps(message.tags) == '["t1"]'
    assert message.headers.copy() == {"X-Order": "1"}
    writable = message.headers.copy()
    writable["X-More"] = "2"  # a copy is an ordinary dict
    assert message.to[:1] == [Address("bob@example.com", "Bob")]
    assert message.recipients[-1].email == "bcc@example.com"
    assert hash(full_message()) == hash(full_message())


def test_json_pickle_and_copy_round_trips_keep_the_message_frozen() -> None:
    message = full_message(attachments=[])
    dumped = message.model_dump(mode="json")
    assert dumped["headers"] == {"X-Order": "1"} and dumped["tags"] == ["t1"]
    for again in (
        Message.model_validate_json(message.model_dump_json()),
        Message(**message.model_dump()),
        pickle.loads(pickle.dumps(message)),
        copy.deepcopy(message),
        copy.copy(message),
    ):
        assert again == message
        with pytest.raises(TypeError):
            again.headers[EVIL] = "v"  # type: ignore[index]


def test_celery_payload_round_trip() -> None:
    celery = pytest.importorskip("unisend.contrib.celery")
    message = full_message()
    payload = json.loads(json.dumps(celery.message_to_payload(message)))
    again = celery.message_from_payload(payload)
    assert again == message
    with pytest.raises(TypeError):
        again.tags.append("x")  # type: ignore[attr-defined]


def test_model_copy_validates_what_it_changes() -> None:
    message = full_message()
    with pytest.raises(InvalidMessage, match="header name"):
        message.model_copy(update={"headers": {EVIL: "v"}})
    with pytest.raises(InvalidMessage, match="control character"):
        message.model_copy(update={"subject": "a\r\nBcc: x@evil.example"})
    changed = message.model_copy(update={"subject": "New", "to": "z@example.com"})
    assert changed.subject == "New" and changed.to[0].email == "z@example.com"
    with pytest.raises(TypeError):
        changed.to.append("y@example.com")  # type: ignore[attr-defined]


def test_wrong_container_types_are_invalid_messages() -> None:
    base = {"sender": "a@example.com", "to": "b@example.com", "text": "x"}
    with pytest.raises(InvalidMessage, match="headers must map strings"):
        Message(**base, headers=[("X-A", "1")])
    with pytest.raises(InvalidMessage, match="metadata must map strings"):
        Message(**base, metadata={"n": 1})
    with pytest.raises(InvalidMessage, match="tags must be a list"):
        Message(**base, tags="welcome")
    with pytest.raises(InvalidMessage, match="attachments must be"):
        Message(**base, attachments=[b"raw"])


# -- item 6: lone surrogates --------------------------------------------------------------

BAD = "bad\udcff"  # what os.fsdecode(b"bad\xff") gives on a UTF-8 system
assert os.fsdecode(b"bad\xff") == BAD or sys.platform == "win32"

SURROGATE_FIELDS: dict[str, tuple[Callable[[], Any], str]] = {
    "subject": (lambda: full_message(subject=BAD), "subject"),
    "text": (lambda: full_message(text=BAD), "text"),
    "html": (lambda: full_message(html=BAD), "html"),
    "sender name": (lambda: full_message(sender=f"{BAD} <a@example.com>"), "sender"),
    "to name": (lambda: full_message(to=Address("b@example.com", BAD)), "display name"),
    "to email": (lambda: full_message(to=f"{BAD}@example.com"), "to"),
    "cc domain": (lambda: full_message(cc=f"c@{BAD}.example"), "cc"),
    "header value": (lambda: full_message(headers={"X-A": BAD}), "header 'X-A'"),
    "header name": (lambda: full_message(headers={BAD: "v"}), "header name"),
    "tag": (lambda: full_message(tags=[BAD]), "tag"),
    "metadata value": (lambda: full_message(metadata={"k": BAD}), "metadata['k']"),
    "metadata key": (lambda: full_message(metadata={BAD: "v"}), "metadata key"),
    "filename": (lambda: Attachment(BAD + ".txt", b"x"), "attachment filename"),
    "content_id": (lambda: Attachment("a.png", b"x", content_id=BAD), "content_id"),
    "template_id": (lambda: full_message(template_id=BAD), "template_id"),
    "template_data": (
        lambda: full_message(template_id="d-1", template_data={"user": {"name": BAD}}),
        "template_data['user']['name']",
    ),
    "template_data list": (
        lambda: full_message(template_id="d-1", template_data={"items": ["ok", BAD]}),
        "template_data['items'][1]",
    ),
    "template_data key": (
        lambda: full_message(template_id="d-1", template_data={BAD: 1}),
        "template_data key",
    ),
    "provider_options": (
        lambda: full_message(provider_options={"sendgrid": {"x": BAD}}),
        "provider_options",
    ),
}


@pytest.mark.parametrize("field", list(SURROGATE_FIELDS))
def test_lone_surrogates_are_refused_at_construction_naming_the_field(field: str) -> None:
    build, named = SURROGATE_FIELDS[field]
    with pytest.raises(InvalidMessage) as caught:
        build()
    text = str(caught.value)
    assert "surrogate" in text and "U+DCFF" in text
    assert named in text


def test_a_message_that_passed_validation_always_encodes() -> None:
    message = full_message(subject="ok ✓", text="😀 fine")
    render(message).data.decode("ascii")
    json.dumps(SendGridTransport(api_key="k").payload(message), ensure_ascii=False).encode()


# -- item 7: no header line over 998 octets -----------------------------------------------


def _decoded_display_name(data: bytes, header: bytes) -> str:
    raw = (b"\r\n" + data).split(b"\r\n" + header + b":", 1)[1]
    lines = [raw.split(b"\r\n")[0]]
    for line in raw.split(b"\r\n")[1:]:
        if not line.startswith(b" "):
            break
        lines.append(line)
    value = b"".join(lines).decode("utf-8")
    phrase = value.rsplit("<", 1)[0].strip()
    if phrase.startswith("=?"):
        return str(make_header(decode_header(phrase)))
    if phrase.startswith('"'):
        return phrase[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return phrase


@pytest.mark.parametrize(
    "name",
    [
        "x" * 3000,
        "Ann " * 750,
        "Jörg" * 800,
        'quote " and \\ ' * 200,
        "a" * 950 + " b",
    ],
    ids=["one-atom", "many-words", "non-ascii", "specials", "long-first-word"],
)
@pytest.mark.parametrize("smtputf8", [False, True])
def test_long_display_names_fold_within_998_and_decode_back(name: str, smtputf8: bool) -> None:
    message = full_message(
        sender=Address("ann@example.com", name), to=Address("b@example.com", name)
    )
    data = render(message, smtputf8=smtputf8).data
    assert max(len(line) for line in wire_lines(data)) <= 998
    assert _decoded_display_name(data, b"From") == name.strip()
    assert _decoded_display_name(data, b"To") == name.strip()


def test_long_header_name_is_refused_and_a_long_legal_one_renders() -> None:
    with pytest.raises(InvalidMessage, match=r"header name .* 1200 characters; .* at most 76"):
        full_message(headers={"X-" + "a" * 1198: "v"})
    with pytest.raises(InvalidMessage, match="77 characters"):
        full_message(headers={"X-" + "a" * 75: "v"})
    name = "X-" + "b" * 74
    for value in ("short", "w" * 950, "word " * 400):
        data = render(full_message(headers={name: value})).data
        assert max(len(line) for line in wire_lines(data)) <= 998
        from email import policy
        from email.parser import BytesParser

        parsed = BytesParser(policy=policy.default).parsebytes(data)
        assert parsed[name] == value


@pytest.mark.parametrize(
    ("email", "match"),
    [
        ("a@" + "l" * 64 + ".example", "over 63 characters"),
        ("a@" + ".".join(["l" * 60] * 5) + ".example", "over 253 characters"),
        ("a@" + "ü" * 70 + ".example", "not a valid domain"),
        ("a@[" + "1" * 3000 + "]", "not an address literal"),
        ("a@[999.1.1.1]", "not an address literal"),
        ("a@[IPv6:nope]", "not an address literal"),
    ],
)
def test_long_or_bad_domains_are_refused(email: str, match: str) -> None:
    with pytest.raises(InvalidMessage, match=match):
        full_message(to=email)


def test_address_literals_still_work() -> None:
    message = full_message(to=["a@[192.0.2.1]", "b@[IPv6:2001:db8::1]"])
    assert [a.email for a in message.to] == ["a@[192.0.2.1]", "b@[IPv6:2001:db8::1]"]


def test_unfoldable_attachment_tokens_have_a_length_limit() -> None:
    with pytest.raises(InvalidMessage, match="content_type"):
        Attachment("a.bin", b"x", "application/" + "x" * 300)
    with pytest.raises(InvalidMessage, match="content_id is 1000 characters"):
        Attachment("a.png", b"x", content_id="c" * 1000)
    with pytest.raises(InvalidMessage, match="message_id"):
        render(full_message(), message_id="<" + "m" * 1000 + "@example.com>")


def test_long_everything_renders_within_998() -> None:
    long_domain = ".".join(["d" * 63] * 3) + ".example"  # 200 characters
    message = full_message(
        sender=Address("a" * 64 + "@" + long_domain, "S" * 2000),
        to=[Address(f"r{i}@{long_domain}", "N" * 1500) for i in range(5)],
        subject="s" * 5000,
        headers={"X-" + "h" * 74: "v" * 5000, "X-Words": "word " * 1000},
        attachments=[
            Attachment("f" * 2000 + ".txt", b"x", content_id="c" * 900),
            Attachment("ü" * 2000 + ".txt", b"x"),
        ],
        text="t" * 5000,
        html="<p>" + "h" * 5000 + "</p>",
    )
    for smtputf8 in (False, True):
        data = render(message, smtputf8=smtputf8).data
        assert max(len(line) for line in wire_lines(data)) <= 998


# -- item 8: several addresses in one string ----------------------------------------------


@pytest.mark.parametrize(
    ("field", "option"),
    [("to", "--to"), ("cc", "--cc"), ("bcc", "--bcc"), ("reply_to", "--reply-to")],
)
@pytest.mark.parametrize(
    "value",
    ["a@x.com, b@x.com", "a@x.com;b@x.com", "a@x.com b@x.com", "Ann <a@x.com>, Bob <b@x.com>"],
)
def test_several_addresses_in_one_string_say_pass_a_list(
    field: str, option: str, value: str
) -> None:
    with pytest.raises(InvalidMessage) as caught:
        full_message(**{field: value})
    text = str(caught.value)
    assert "one address per string" in text
    assert "pass a list" in text
    assert f"repeat {option}" in text
    assert "spaces" not in text


def test_several_addresses_elsewhere() -> None:
    with pytest.raises(InvalidMessage, match="a message has one sender"):
        full_message(sender="a@x.com, b@x.com")
    with pytest.raises(InvalidMessage, match="one address per string"):
        Address("a@x.com,b@x.com")
    with pytest.raises(InvalidMessage, match="one address per string"):
        full_message(to=["ok@x.com", "a@x.com, b@x.com"])


@pytest.mark.parametrize(
    ("value", "email", "name"),
    [
        ('"Doe, Ann" <a@x.com>', "a@x.com", "Doe, Ann"),
        ('"a@b"@x.org', '"a@b"@x.org', ""),
        ('"Ann (a@old.example)" <a@x.com>', "a@x.com", "Ann (a@old.example)"),
    ],
)
def test_one_address_with_commas_or_at_signs_in_quotes_is_fine(
    value: str, email: str, name: str
) -> None:
    address = full_message(to=value).to[0]
    assert (address.email, address.name) == (email, name)


# -- item 9: Attachment.from_path ---------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("chart.png", "image/png"),
        ("report.PDF", "application/pdf"),
        ("notes.txt", "text/plain"),
        ("data.unknownext", "application/octet-stream"),
        ("README", "application/octet-stream"),
    ],
)
def test_from_path_fills_the_guessed_content_type(
    tmp_path: Path, filename: str, expected: str
) -> None:
    path = tmp_path / filename
    path.write_bytes(b"\x89PNG")
    attachment = Attachment.from_path(path)
    assert attachment.content_type == expected
    assert attachment.mimetype == expected
    assert f"content_type={expected!r}" in repr(attachment)
    assert Attachment.from_path(path, "text/csv").content_type == "text/csv"
    assert Attachment.from_path(path, filename="x.gif").content_type == "image/gif"


def test_from_path_of_a_missing_file_is_an_invalid_message_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "chart.png"
    with pytest.raises(InvalidMessage) as caught:
        Attachment.from_path(missing)
    assert str(missing) in str(caught.value)
    assert "No such file" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(InvalidMessage, match="Is a directory"):
        Attachment.from_path(tmp_path)


def test_example_script_reports_a_missing_attachment_without_a_traceback(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "UNISEND"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["UNISEND_SANDBOX"] = str(tmp_path / "sandbox.sqlite3")
    missing = tmp_path / "missing.pdf"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "send_script.py"), "bob@example.com",
         "--attach", str(missing)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert str(missing) in done.stderr
    assert not (tmp_path / "sandbox.sqlite3").exists()  # nothing was sent


def test_cli_says_to_repeat_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from unisend.cli import main

    url = f"sandbox://{tmp_path / 'cli.sqlite3'}"
    code = main(
        [
            "send",
            "--from",
            "a@example.com",
            "--to",
            "a@x.com, b@x.com",
            "--text",
            "hi",
            "--url",
            url,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "one address per string" in err and "repeat --to" in err
    assert not (tmp_path / "cli.sqlite3").exists()


def test_messages_rebuilt_from_payloads_share_their_addresses_and_still_check_them() -> None:
    from unisend._payload import message_from_payload, message_to_payload

    message = Message(sender="Shop <shop@example.com>", to=["bob@example.com"], text="hi")
    first = message_from_payload(json.loads(json.dumps(message_to_payload(message))))
    second = message_from_payload(json.loads(json.dumps(message_to_payload(message))))
    assert first == message == second
    assert first.sender is second.sender  # validated once, shared (it is immutable)
    assert first.cc == [] and first.bcc == []
    tampered = message_to_payload(message)
    tampered["message"]["to"] = [{"email": "bob@example.com\r\nBcc: x@evil.example", "name": ""}]
    with pytest.raises(InvalidMessage, match="control character"):
        message_from_payload(tampered)
