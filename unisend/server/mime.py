"""Raw message bytes to what the inbox shows: decoded headers, the text and HTML
bodies, and the attachments (every other leaf part, inline images included).

Parsing is forgiving: a malformed header or an unknown charset degrades to a best-effort
string, never an error, because the inbox must show whatever an application sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from urllib.parse import unquote

#: Leaf parts looked at in one message, at most (a bound on hostile input).
MAX_PARTS = 1000
#: Multipart nesting followed, at most.
MAX_DEPTH = 20


@dataclass(frozen=True)
class Attachment:
    """One non-body part."""

    index: int
    filename: str
    content_type: str
    size: int
    content_id: str | None
    part: Message

    def payload(self) -> bytes:
        """The decoded bytes (an attached message: its source)."""
        return _payload(self.part)

    def summary(self) -> dict[str, object]:
        """The API's form: index, filename, content_type, size, content_id."""
        return {
            "index": self.index,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "content_id": self.content_id,
        }


@dataclass(frozen=True)
class Parsed:
    """A message taken apart."""

    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    attachments: list[Attachment]

    def by_content_id(self) -> dict[str, Attachment]:
        """Attachments by Content-ID (without angle brackets)."""
        return {a.content_id: a for a in self.attachments if a.content_id}


def parse(raw: bytes) -> Parsed:
    """Take ``raw`` apart."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    headers = [(name, _header_value(message, name, value)) for name, value in message.raw_items()]
    text_part = _body(message, "plain")
    html_part = _body(message, "html")
    attachments: list[Attachment] = []
    for part in _leaves(message, 0):
        if part is text_part or part is html_part:
            continue
        if len(attachments) >= MAX_PARTS:
            break
        attachments.append(_attachment(len(attachments), part))
    return Parsed(
        headers=headers,
        text=None if text_part is None else _text(text_part),
        html=None if html_part is None else _text(html_part),
        attachments=attachments,
    )


def _header_value(message: EmailMessage, name: str, value: object) -> str:
    try:
        return str(message.policy.header_fetch_parse(name, str(value)))
    except Exception:
        return str(value)


def _body(message: EmailMessage, subtype: str) -> Message | None:
    try:
        body = message.get_body(preferencelist=(subtype,))
    except Exception:
        return None
    if body is None or body.get_content_type() != f"text/{subtype}":
        return None
    if body.get_content_disposition() == "attachment":
        return None
    return body


def _leaves(part: Message, depth: int) -> Iterator[Message]:
    """Every non-multipart part, depth first; an attached message counts as one."""
    if part.is_multipart() and part.get_content_type() != "message/rfc822":
        if depth >= MAX_DEPTH:
            return
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from _leaves(sub, depth + 1)
    else:
        yield part


def _attachment(index: int, part: Message) -> Attachment:
    content_type = part.get_content_type()
    try:
        filename = part.get_filename()
    except Exception:
        filename = None
    content_id = None
    raw_cid = part.get("content-id")
    if raw_cid is not None:
        content_id = str(raw_cid).strip().strip("<>").strip() or None
    return Attachment(
        index=index,
        filename=filename or f"part-{index + 1}{_extension(content_type)}",
        content_type=content_type,
        size=len(_payload(part)),
        content_id=content_id,
        part=part,
    )


def _extension(content_type: str) -> str:
    import mimetypes

    return mimetypes.guess_extension(content_type) or ".bin"


def _payload(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822" or part.is_multipart():
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0].as_bytes(policy=policy.SMTP)
        return part.as_bytes(policy=policy.SMTP)
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception:
        pass
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


_CID = re.compile(r"""cid:([^\s"'<>)]+)""", re.IGNORECASE)


def resolve_cids(html: str, parsed: Parsed, url_for: dict[int, str] | None = None) -> str:
    """``html`` with each ``cid:ID`` that names one of the message's own parts replaced
    by that part's URL (``url_for[index]``); unknown ids are left as they are."""
    parts = parsed.by_content_id()

    def swap(match: re.Match[str]) -> str:
        found = parts.get(unquote(match.group(1)))
        if found is None or url_for is None:
            return match.group(0)
        return url_for[found.index]

    return _CID.sub(swap, html)
