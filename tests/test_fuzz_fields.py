"""Fuzzing every header-bearing field of every transport (issue 9, item 21).

Hypothesis builds messages from hostile text: CR, LF, NUL, NEL, U+2028, lone
surrogates, ``"\\r\\nBcc: x@evil.example"``, encoded-word look-alikes and tokens
thousands of characters long, in every field at once. Each message is either refused
at construction (``InvalidMessage``) or, once built:

* cannot be changed (every container refuses, so the checks that ran still hold);
* renders to SMTP bytes (``_mime``) whose lines are CRLF-terminated, at most 998
  octets, whose headers are only the ones unisend writes plus the user's own, and
  whose subject and user header values decode back exactly;
* builds each provider's JSON request (SendGrid, Postmark, Mailjet, Brevo, Mailtrap
  sending and sandbox; built without sending) in which no string outside the bodies
  and free-form data holds a control character or a lone surrogate, every header
  name is a valid one, and the whole document encodes as UTF-8.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from email import policy
from email.parser import BytesParser, Parser
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from unisend import Address, Attachment, InvalidMessage, Message
from unisend._mime import render
from unisend.transports._http import HttpTransport
from unisend.transports.brevo import BrevoTransport
from unisend.transports.mailjet import MailjetTransport
from unisend.transports.mailtrap import MailtrapTransport
from unisend.transports.postmark import PostmarkTransport
from unisend.transports.sendgrid import SendGridTransport

TRANSPORTS: dict[str, Callable[[], HttpTransport]] = {
    "sendgrid": lambda: SendGridTransport(api_key="k"),
    "postmark": lambda: PostmarkTransport(server_token="t"),
    "mailjet": lambda: MailjetTransport(api_key="k", secret_key="s"),
    "brevo": lambda: BrevoTransport(api_key="k"),
    "mailtrap": lambda: MailtrapTransport(token="t"),
    "mailtrap-sandbox": lambda: MailtrapTransport(token="t", sandbox=True, inbox_id=1),
}

# JSON keys whose values are bodies, attachment content or free-form data: they may
# hold line breaks (a body) and are not headers.
_FREE_KEYS = {
    "value",  # SendGrid content[].value
    "TextBody", "HtmlBody",  # Postmark
    "TextPart", "HTMLPart",  # Mailjet
    "textContent", "htmlContent",  # Brevo
    "text", "html",  # Mailtrap
    "content", "Content", "Base64Content",  # attachments
    "dynamic_template_data", "substitutions", "TemplateModel", "Variables", "params",
    "template_variables",
}  # fmt: skip
_BAD_IN_HEADERS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")
_UNISEND_HEADERS = {
    "from", "to", "cc", "reply-to", "subject", "date", "message-id", "mime-version",
    "content-type", "content-transfer-encoding",
}  # fmt: skip
_PART_HEADERS = {"content-type", "content-transfer-encoding", "content-disposition", "content-id"}

# -- strategies ----------------------------------------------------------------------

_hostile = st.sampled_from(
    [
        "\r", "\n", "\r\n", "\r\nBcc: x@evil.example", "\x00", "\x0b", "\x7f", "\x85",
        "\u2028", "\u2029", "\udcff", "\ud800", "\t", "=?", "?=", "=?utf-8?q?x?=", '"',
        "\\", ",", ";", ":", "<", ">", "@", "(", ")", " ", "  ",
    ]
)  # fmt: skip
_clean_char = st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029")
_long_token = st.builds(
    lambda char, n: char * n, st.sampled_from(["x", "ü", "日", "a b", "=?"]), st.integers(300, 3000)
)
clean_text = st.lists(_clean_char | st.sampled_from([" ", '"', "=?", ",", "@"]), max_size=40).map(
    "".join
)
any_text = st.one_of(
    clean_text,
    clean_text,
    st.lists(_clean_char | _hostile, max_size=40).map("".join),
    _long_token,
    st.tuples(clean_text, _long_token, clean_text).map("".join),
)

safe_text = st.one_of(
    clean_text, clean_text, _long_token, st.tuples(clean_text, _long_token).map("".join)
)

_local = st.sampled_from(["ann", "bob.smith", "o'neil", '"a b"', "x" * 64, "jörg", "a+tag"])
_good_domain = st.sampled_from(
    [
        "example.com", "bücher.example", "xn--bcher-kva.example", "d" * 63 + ".example",
        ".".join(["l" * 62] * 4)[:240] + ".example", "[192.0.2.1]", "[IPv6:2001:db8::1]",
    ]
)  # fmt: skip
_bad_email = st.sampled_from(
    [
        "a@x.com, b@x.com", "nope", "a@x\r\n.com", "bad\udcff@x.com", "a@" + "l" * 64 + ".example",
        "a@bad_domain..example", "a@[not-an-ip]", "a@" + "d." * 130 + "example",
    ]
)  # fmt: skip
_good_email = st.builds(lambda local, domain: f"{local}@{domain}", _local, _good_domain)
header_name = st.sampled_from(["X-Order", "X-A", "List-Unsubscribe"]) | st.integers(1, 74).map(
    lambda n: "X-" + "h" * n
)
_bad_header_name = st.sampled_from(["Bcc", "X Bad", "X:Y", "X\r\nBcc", "X-" + "h" * 75, "\udcff"])

#: The fields one example may make hostile; the others stay valid (but long and tricky),
#: so that most examples get past construction and reach the wire formats.
FIELDS = [
    "sender", "to", "cc", "reply_to", "subject", "text", "html", "header name",
    "header value", "tag", "metadata", "filename", "content_type", "content_id", None,
]  # fmt: skip


@st.composite
def message_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments for Message: one field (or none) hostile, the rest valid, many
    very long."""
    dirty = draw(st.sampled_from(FIELDS))

    def text(field: str) -> str:
        return draw(any_text if field == dirty else safe_text)

    def addresses(field: str, size: int) -> list[tuple[str, str]]:
        found = []
        for index in range(draw(st.integers(1 if field in ("to", "sender") else 0, size))):
            hostile = field == dirty and index == 0
            email = draw(_bad_email | _good_email if hostile else _good_email)
            found.append((email, text(field) if draw(st.booleans()) else ""))
        return found

    fields: dict[str, Any] = {
        "sender": addresses("sender", 1)[0] if dirty == "sender" else ("ann@example.com", text("")),
        "to": addresses("to", 3),
        "cc": addresses("cc", 2),
        "bcc": addresses("bcc", 1),
        "reply_to": addresses("reply_to", 1),
        "subject": text("subject"),
        "text": text("text")
        if dirty != "text"
        else draw(any_text | st.just("a\r\nBcc: x@e.example")),
        "headers": {
            draw(_bad_header_name if dirty == "header name" else header_name): text("header value")
            for _ in range(draw(st.integers(0, 2)))
        },
        "tags": [text("tag") or "t" for _ in range(draw(st.integers(0, 2)))],
        "metadata": {text("metadata"): text("metadata") for _ in range(draw(st.integers(0, 2)))},
        "attachments": [
            {
                "filename": (text("filename").replace("/", "").replace("\\", "") or "f") + ".txt",
                "content": b"data",
                "content_type": draw(
                    st.sampled_from(["bad type", "a/" + "b" * 200])
                    if dirty == "content_type"
                    else st.sampled_from([None, "text/plain", "image/png"])
                ),
                "content_id": draw(
                    (any_text | st.integers(1, 1200).map(lambda n: "c" * n))
                    if dirty == "content_id"
                    else st.sampled_from([None, "logo@x", "c" * 900])
                ),
            }
            for _ in range(draw(st.integers(0, 2)))
        ],
    }
    if draw(st.booleans()) or dirty == "html":
        fields["html"] = text("html")
    return fields


def build(fields: dict[str, Any]) -> Message:
    """The Message, or InvalidMessage from anything along the way."""
    return Message(
        sender=Address(*fields["sender"]),
        to=[Address(*a) for a in fields["to"]],
        cc=[Address(*a) for a in fields["cc"]],
        bcc=[Address(*a) for a in fields["bcc"]],
        reply_to=[Address(*a) for a in fields["reply_to"]],
        subject=fields["subject"],
        text=fields["text"],
        html=fields.get("html"),
        headers=fields["headers"],
        tags=fields["tags"],
        metadata=fields["metadata"],
        attachments=[Attachment(**a) for a in fields["attachments"]],
    )


# -- checks --------------------------------------------------------------------------


def _mutations(message: Message) -> Iterator[Callable[[], Any]]:
    evil = Address.model_construct(email="x@evil.example\r\nX-Evil: 1", name="")
    for name in ("to", "cc", "bcc", "reply_to", "tags", "attachments"):
        items: Any = getattr(message, name)
        yield lambda items=items: items.append(evil)
        yield lambda items=items: items.extend([evil])
        yield lambda items=items: items.insert(0, evil)
        yield lambda items=items: items.__setitem__(slice(0, 0), [evil])
        yield lambda items=items: items.__iadd__([evil])
    for name in ("headers", "metadata"):
        mapping: Any = getattr(message, name)
        yield lambda mapping=mapping: mapping.__setitem__("X\r\nBcc", "x@evil.example")
        yield lambda mapping=mapping: mapping.update({"X-Evil": "a\r\nBcc: b"})
        yield lambda mapping=mapping: mapping.setdefault("X-Evil", "a\r\nBcc: b")


def check_immutable(message: Message) -> None:
    before = message.model_dump()
    for mutate in _mutations(message):
        with pytest.raises(TypeError):
            mutate()
    assert message.model_dump() == before


def check_smtp(message: Message) -> None:
    smtputf8 = message.needs_smtputf8
    data = render(message, smtputf8=smtputf8).data
    assert b"\n" not in data.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in data.replace(b"\r\n", b""), "bare CR"
    lines = data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8" if smtputf8 else "ascii")
    assert not _BAD_IN_HEADERS.search(head.replace("\r\n", ""))
    names = set()
    for line in head.split("\r\n"):
        if line.startswith((" ", "\t")):
            continue
        name, colon, _ = line.partition(":")
        assert colon and _HEADER_NAME.fullmatch(name), line[:80]
        names.add(name.lower())
    user = {name.lower() for name in message.headers}
    assert names <= _UNISEND_HEADERS | user, names - _UNISEND_HEADERS - user
    assert "bcc" not in names
    parsed = (
        Parser(policy=policy.default).parsestr(data.decode("utf-8"))
        if smtputf8
        else BytesParser(policy=policy.default).parsebytes(data)
    )
    assert parsed["Subject"] == message.subject
    for name, value in message.headers.items():
        assert parsed[name] == value
    for part in parsed.walk():
        if part is not parsed:
            assert {key.lower() for key in part} <= _PART_HEADERS


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, string) for every string in a JSON document, skipping free-form keys."""
    if key in _FREE_KEYS:
        return
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield "key", name
            yield from _strings(item, name)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item, key)


def _header_maps(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        for name, item in value.items():
            if name in ("headers", "Headers") and isinstance(item, dict):
                yield item
            yield from _header_maps(item)
    elif isinstance(value, list):
        for item in value:
            yield from _header_maps(item)
            if isinstance(item, dict) and set(item) == {"Name", "Value"}:  # Postmark
                yield {item["Name"]: item["Value"]}


def check_provider(transport: HttpTransport, message: Message) -> None:
    try:
        request = transport._build_request(message)
    except InvalidMessage:
        event(f"{transport.name} cannot carry it")
        return  # something this provider cannot carry: refused before any I/O
    document = request.json
    json.dumps(document, ensure_ascii=False).encode("utf-8")  # no lone surrogate anywhere
    for key, text in _strings(document):
        found = _BAD_IN_HEADERS.search(text.replace("\t", " "))
        assert found is None, f"{transport.name}: {key!r} holds {found.group()!r}"
    for headers in _header_maps(document):
        for name, value in headers.items():
            assert _HEADER_NAME.fullmatch(name), f"{transport.name}: header name {name!r}"
            assert not _BAD_IN_HEADERS.search(str(value))
    for name, value in request.headers.items():
        assert _HEADER_NAME.fullmatch(name) and not _BAD_IN_HEADERS.search(value)


# -- the properties ------------------------------------------------------------------


_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@_SETTINGS
@given(fields=message_fields())
def test_every_field_of_every_transport(fields: dict[str, Any]) -> None:
    try:
        message = build(fields)
    except InvalidMessage:
        event("refused at construction")
        return
    event("built")
    check_immutable(message)
    check_smtp(message)
    for make in TRANSPORTS.values():
        check_provider(make(), message)


@settings(max_examples=300, deadline=None)
@given(value=st.lists(_clean_char | _hostile, min_size=1, max_size=30).map("".join))
def test_a_field_is_accepted_only_when_it_is_clean(value: str) -> None:
    """Header-bearing text with a control character or a lone surrogate is always an
    InvalidMessage; without one it is accepted (TAB only in subject and header values)."""
    dirty = _BAD_IN_HEADERS.search(value) is not None
    dirty_or_tab = dirty or "\t" in value
    base: dict[str, Any] = {"sender": "a@example.com", "to": "b@example.com", "text": "x"}
    cases: list[tuple[Callable[[], Any], bool]] = [
        (lambda: Message(**base, subject=value), dirty),
        (lambda: Message(**base, headers={"X-A": value}), dirty),
        (lambda: Message(**base, tags=[value]), dirty_or_tab or not value.strip()),
        (lambda: Message(**base, metadata={"k": value}), dirty_or_tab),
        (lambda: Message(**base, metadata={value: "v"}), dirty_or_tab),
        (lambda: Address("a@example.com", value), dirty_or_tab),
    ]
    if "/" not in value and "\\" not in value:
        cases.append((lambda: Attachment(value, b"x"), dirty_or_tab or not value.strip()))
    for make, refused in cases:
        if refused:
            with pytest.raises(InvalidMessage):
                make()
        else:
            make()
    body_refused = re.search("[\ud800-\udfff]", value) is not None
    for field in ("text", "html"):
        if body_refused:
            with pytest.raises(InvalidMessage, match="surrogate"):
                Message(sender="a@example.com", to="b@example.com", **{field: value})
        else:
            Message(sender="a@example.com", to="b@example.com", **{field: value})
