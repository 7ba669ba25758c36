"""Message -> RFC 5322 bytes, for SMTP, the console and the sandbox.

A small hand-written serializer on stdlib pieces (``binascii``, ``base64``,
``email.utils``) instead of ``email.message.EmailMessage``: about ten times faster for
a small message, and in control of header folding. The stdlib's modern folder drops
the spaces between encoded words of long non-ASCII subjects; here a header value is
either written as plain words folded at single spaces (which unfolding restores
exactly) or encoded whole as a run of RFC 2047 encoded words, whose separating
whitespace decoders ignore. Either way it decodes back to the very same string.

Layout: ``multipart/mixed`` (attachments) > ``multipart/alternative`` (text, html) >
``multipart/related`` (html and its inline parts); a level is left out when it would
hold a single part. Lines end in CRLF and never exceed 998 octets.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import quote

import idna

from ._errors import InvalidMessage
from ._message import Address, Attachment, Message


@dataclass(frozen=True)
class Rendered:
    """A rendered message: the wire bytes and the Message-ID written into them.

    A small message is one piece; one with a large attachment is several (the
    attachment's base64 in slices of about a megabyte), so that sending it never needs
    a second copy of the whole message: write :attr:`chunks` in order.
    """

    #: The complete RFC 5322 message (CRLF line ends) as consecutive pieces.
    chunks: tuple[bytes, ...]
    #: The ``Message-ID`` header value, angle brackets included.
    message_id: str

    @property
    def data(self) -> bytes:
        """The whole message as one ``bytes`` (a copy when it is in several chunks)."""
        chunks = self.chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @property
    def size(self) -> int:
        """Length of the message in octets."""
        return sum(map(len, self.chunks))


# Soft line target (RFC 5322 2.1.1 SHOULD); a single token may run longer, up to the
# hard limit, which tokens are kept well below.
_FOLD_AT = 78
_MAX_TOKEN = 900
# Attachments above this size are base64-encoded in slices of _B64_SLICE input bytes
# (57 bytes make one 76-character line), and the message is kept in chunks.
_LARGE = 1 << 20
_B64_SLICE = 57 * 16384
_EW_Q_PAYLOAD = 63  # 75 - len("=?utf-8?q?") - len("?=")
_EW_B_BYTES = 45  # 45 bytes -> 60 base64 chars + 12 = 72 <= 75

# Plain header words: printable, single spaces only, nothing a decoder could take for
# an encoded word.
_PLAIN_ASCII = re.compile(r"[!-~]+(?: [!-~]+)*")
_PLAIN_UTF8 = re.compile(r"[^\x00-\x20\x7f-\x9f]+(?: [^\x00-\x20\x7f-\x9f]+)*")
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
# RFC 6532: with SMTPUTF8, atext also takes any non-ASCII character.
_ATOMS_UTF8 = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u00a0-\U0010ffff]+"
    r"(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u00a0-\U0010ffff]+)*"
)
# 7bit needs printable ASCII (TAB allowed) and lines of at most 998 octets.
_NOT_7BIT = re.compile(r"[^\t\n\x20-\x7e]|[^\n]{999}")
_MSGID = re.compile(r"<?[!-;=?-~]+@[!-;=?-~]+>?")

# RFC 2047 5(3): in a phrase, Q-encoded words may hold only these as themselves.
_Q_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/"
_Q_BYTE = [chr(b) if b in _Q_SAFE else f"={b:02X}" for b in range(256)]
_Q_BYTE[0x20] = "_"
_Q_CHAR = {chr(b): _Q_BYTE[b] for b in range(128)}


# -- headers -------------------------------------------------------------------------


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded words (Q or B, whichever is shorter), each <= 75
    chars, never splitting a character."""
    raw = text.encode("utf-8")
    q_size = sum(len(_Q_BYTE[b]) for b in raw)
    words: list[str] = []
    if q_size <= (len(raw) + 2) // 3 * 4:
        parts: list[str] = []
        size = 0
        for char in text:
            piece = _Q_CHAR.get(char) or "".join(_Q_BYTE[b] for b in char.encode("utf-8"))
            if parts and size + len(piece) > _EW_Q_PAYLOAD:
                words.append("=?utf-8?q?" + "".join(parts) + "?=")
                parts, size = [], 0
            parts.append(piece)
            size += len(piece)
        words.append("=?utf-8?q?" + "".join(parts) + "?=")
        return words
    chunk = bytearray()
    for char in text:
        encoded = char.encode("utf-8")
        if chunk and len(chunk) + len(encoded) > _EW_B_BYTES:
            words.append("=?utf-8?b?" + base64.b64encode(chunk).decode("ascii") + "?=")
            chunk = bytearray()
        chunk += encoded
    words.append("=?utf-8?b?" + base64.b64encode(chunk).decode("ascii") + "?=")
    return words


def _octets(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _fold(name: str, tokens: Sequence[str]) -> str:
    """``Name: tok tok`` folded before a token when the line would pass 78 chars.

    The first token always stays on the first line (a parser may keep the space of a
    fold right after the colon): header names of at most 76 characters and tokens of
    at most ``_MAX_TOKEN`` octets keep that line within 998 octets."""
    lines: list[str] = []
    line = name + ":"
    start = len(line)
    for token in tokens:
        if len(line) > start and len(line) + 1 + len(token) > _FOLD_AT:
            lines.append(line)
            line = " " + token
        else:
            line += " " + token
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _plain_tokens(value: str, smtputf8: bool) -> list[str] | None:
    """The words of ``value`` if it can go out unencoded and decode back exactly."""
    pattern = _PLAIN_UTF8 if smtputf8 else _PLAIN_ASCII
    if "=?" in value or not pattern.fullmatch(value):
        return None
    words = value.split(" ")
    if any(len(word.encode("utf-8")) > _MAX_TOKEN for word in words):
        return None
    return words


def _unstructured(name: str, value: str, smtputf8: bool) -> str:
    """An unstructured header (Subject, user headers) that decodes back to ``value``."""
    if not value:
        return f"{name}:\r\n"
    tokens = _plain_tokens(value, smtputf8)
    return _fold(name, tokens if tokens is not None else _encoded_words(value))


def ascii_email(address: Address) -> str:
    """``address.ascii_email`` without re-validating the address (it was validated at
    construction): the domain in punycode, ``""`` for a non-ASCII local part."""
    email = address.email
    if email.isascii():
        local, _, domain = email.rpartition("@")
        return f"{local}@{domain.lower()}"
    return address.ascii_email


def _mailbox_tokens(address: Address, smtputf8: bool) -> list[str]:
    if smtputf8:
        email = address.email
    else:
        email = ascii_email(address)
        if not email:
            raise InvalidMessage(
                f"address {address.email!r} has a non-ASCII local part and needs SMTPUTF8; "
                "render it with smtputf8=True"
            )
    name = address.name
    if not name:
        return [f"<{email}>"]
    if "=?" not in name and (name.isascii() or smtputf8):
        if (_ATOMS_UTF8 if smtputf8 else _ATOMS).fullmatch(name):
            words = name.split(" ")
            if all(_octets(word) <= _MAX_TOKEN for word in words):
                return [*words, f"<{email}>"]
        quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted.encode("utf-8")) <= _MAX_TOKEN:
            return [quoted, f"<{email}>"]
    return [*_encoded_words(name), f"<{email}>"]


def _address_header(name: str, addresses: Sequence[Address], smtputf8: bool) -> str:
    tokens: list[str] = []
    for index, address in enumerate(addresses):
        mailbox = _mailbox_tokens(address, smtputf8)
        if index < len(addresses) - 1:
            mailbox[-1] += ","
        tokens.extend(mailbox)
    return _fold(name, tokens)


def _param_header(name: str, value: str, params: Sequence[str]) -> str:
    """``Name: value; p1; p2`` with parameters moved to continuation lines as needed."""
    line = f"{name}: {value}"
    lines: list[str] = []
    for param in params:
        line += ";"
        if len(line) + 1 + len(param) > _FOLD_AT:
            lines.append(line)
            line = " " + param
        else:
            line += " " + param
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rfc2231(param: str, value: str) -> list[str]:
    """RFC 2231 ``param*=utf-8''...`` in ``param*N*=`` sections of <= 60 chars."""
    encoded = quote(value, safe="")
    if len(encoded) <= 60:
        return [f"{param}*=utf-8''{encoded}"]
    sections: list[str] = []
    start = 0
    while start < len(encoded):
        end = min(start + 60, len(encoded))
        # never split a %XX escape
        percent = encoded.rfind("%", max(start, end - 2), end)
        if percent != -1 and end < len(encoded):
            end = percent
        sections.append(encoded[start:end])
        start = end
    return [
        f"{param}*{index}*=" + ("utf-8''" if index == 0 else "") + section
        for index, section in enumerate(sections)
    ]


def _filename_params(filename: str) -> tuple[list[str], list[str]]:
    """(Content-Type ``name`` params, Content-Disposition ``filename`` params)."""
    if filename.isascii() and len(filename) <= 60 and _PLAIN_ASCII.fullmatch(filename):
        return [f"name={_quoted(filename)}"], [f"filename={_quoted(filename)}"]
    filename_params = _rfc2231("filename", filename)
    # Old clients ignore RFC 2231 but read an RFC 2047 encoded name= in Content-Type.
    legacy = filename if filename.isascii() else " ".join(_encoded_words(filename))
    if len(legacy) <= _MAX_TOKEN:
        return [f"name={_quoted(legacy)}"], filename_params
    return _rfc2231("name", filename), filename_params


# -- bodies --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    headers: str  # Content-* lines, CRLF-terminated
    body: bytes | tuple[bytes, ...]  # a tuple: consecutive chunks of a large body


def _text_part(subtype: str, text: str) -> _Part:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _NOT_7BIT.search(text) is None:
        body = text.replace("\n", "\r\n").encode("ascii")
        encoding = "7bit"
    else:
        body = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
        encoding = "quoted-printable"
    return _Part(
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n",
        body,
    )


def _base64_lines(content: bytes) -> bytes | tuple[bytes, ...]:
    if not content:
        return b""
    if len(content) <= _LARGE:
        return base64.encodebytes(content).replace(b"\n", b"\r\n")
    view = memoryview(content)
    return tuple(
        base64.encodebytes(view[start : start + _B64_SLICE]).replace(b"\n", b"\r\n")
        for start in range(0, len(content), _B64_SLICE)
    )


def _attachment_part(attachment: Attachment) -> _Part:
    name_params, filename_params = _filename_params(attachment.filename)
    headers = _param_header("Content-Type", attachment.mimetype, name_params)
    headers += "Content-Transfer-Encoding: base64\r\n"
    disposition = "inline" if attachment.inline else "attachment"
    headers += _param_header("Content-Disposition", disposition, filename_params)
    if attachment.content_id:
        headers += f"Content-ID: <{attachment.content_id}>\r\n"
    return _Part(headers, _base64_lines(attachment.content))


def _multipart(subtype: str, parts: Sequence[_Part], params: Sequence[str] = ()) -> _Part:
    if len(parts) == 1:
        return parts[0]
    # "=_" never occurs in quoted-printable or base64 output; the random tail makes a
    # clash with a 7bit body a 2**-96 event.
    boundary = "=_" + os.urandom(12).hex()
    delimiter = b"\r\n--" + boundary.encode("ascii") + b"\r\n"
    headers = _param_header(
        "Content-Type", f"multipart/{subtype}", [*params, f'boundary="{boundary}"']
    )
    for part in parts:
        if type(part.body) is tuple:
            return _Part(headers, _chunked_multipart(boundary.encode("ascii"), delimiter, parts))
    body = (
        b"--"
        + boundary.encode("ascii")
        + b"\r\n"
        + delimiter.join(
            part.headers.encode("ascii") + b"\r\n" + part.body  # type: ignore[operator]
            for part in parts
        )
        + b"\r\n--"
        + boundary.encode("ascii")
        + b"--\r\n"
    )
    return _Part(headers, body)


def _chunked_multipart(
    boundary: bytes, delimiter: bytes, parts: Sequence[_Part]
) -> tuple[bytes, ...]:
    """The multipart body as chunks: a large part's chunks are referenced, not copied,
    and the small pieces between them are joined."""
    chunks: list[bytes] = []
    pending = b"--" + boundary + b"\r\n"
    for index, part in enumerate(parts):
        if index:
            pending += delimiter
        pending += part.headers.encode("ascii") + b"\r\n"
        if isinstance(part.body, bytes):
            pending += part.body
        else:
            chunks.append(pending)
            chunks.extend(part.body[:-1])
            pending = part.body[-1]
    chunks.append(pending + b"\r\n--" + boundary + b"--\r\n")
    return tuple(chunks)


def _content(message: Message) -> _Part:
    inline = [a for a in message.attachments if a.inline]
    attached = [a for a in message.attachments if not a.inline]
    alternatives: list[_Part] = []
    if message.text is not None:
        alternatives.append(_text_part("plain", message.text))
    if message.html is not None:
        html = _text_part("html", message.html)
        if inline:
            html = _multipart(
                "related",
                [html, *(_attachment_part(a) for a in inline)],
                ['type="text/html"'],
            )
            inline = []
        alternatives.append(html)
    if not alternatives:
        raise InvalidMessage(
            "the message has no text or html body to render; template_id needs an HTTP "
            "provider that renders templates"
        )
    body = _multipart("alternative", alternatives)
    # Inline parts without html to reference them travel as ordinary attachments.
    extra = [_attachment_part(a) for a in (*inline, *attached)]
    return _multipart("mixed", [body, *extra]) if extra else body


# -- the message ---------------------------------------------------------------------


def _sender_domain(sender: Address) -> str:
    domain = sender.domain.lower()
    if domain.isascii():
        return domain
    return idna.encode(domain, uts46=True).decode("ascii")


def make_message_id(sender: Address) -> str:
    """A fresh ``<random@sender-domain>`` Message-ID (IDN domains in punycode)."""
    return f"<{os.urandom(16).hex()}@{_sender_domain(sender)}>"


def render(
    message: Message,
    *,
    smtputf8: bool = False,
    message_id: str | None = None,
    date: datetime | None = None,
) -> Rendered:
    """Serialize ``message`` into RFC 5322 bytes (CRLF line ends, lines <= 998 octets).

    Non-ASCII headers are RFC 2047 encoded and addresses use punycode domains, unless
    ``smtputf8`` (the transaction uses SMTPUTF8), which allows raw UTF-8 instead. A
    non-ASCII local part without ``smtputf8`` is an :class:`InvalidMessage`, as is a
    message without a sender or without text/html. ``message_id`` (brackets optional)
    and ``date`` default to a fresh id on the sender's domain and now. Bcc never
    appears in the output.
    """
    try:
        return _render(message, smtputf8, message_id, date)
    except UnicodeEncodeError as exc:
        # Only lone surrogates (e.g. from os.fsdecode of a bad filename) cannot be encoded.
        raise InvalidMessage(
            f"the message contains a character UTF-8 cannot carry ({exc.object[exc.start]!r}: "
            f"{exc.reason}); remove lone surrogates from its text"
        ) from None


def _render(
    message: Message, smtputf8: bool, message_id: str | None, date: datetime | None
) -> Rendered:
    sender = message.sender
    if sender is None:
        raise InvalidMessage(
            "the message has no sender; set Message(sender=...) or Mailer(default_sender=...)"
        )
    if message_id is None:
        message_id = make_message_id(sender)
    else:
        if len(message_id) > _MAX_TOKEN or not _MSGID.fullmatch(message_id):
            raise InvalidMessage(
                f"message_id {message_id!r} must look like <unique@domain> (printable ASCII)"
            )
        message_id = f"<{message_id.strip('<>')}>"
    when = date if date is not None else datetime.now(timezone.utc)

    head = _address_header("From", [sender], smtputf8)
    head += _address_header("To", message.to, smtputf8)
    if message.cc:
        head += _address_header("Cc", message.cc, smtputf8)
    if message.reply_to:
        head += _address_header("Reply-To", message.reply_to, smtputf8)
    head += _unstructured("Subject", message.subject, smtputf8)
    head += f"Date: {format_datetime(when)}\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
    for name, value in message.headers.items():
        head += _unstructured(name, value, smtputf8)
    content = _content(message)
    head += content.headers + "\r\n"
    body = content.body
    if isinstance(body, tuple):
        # A large message: a multipart body, which ends in CRLF.
        chunks = (head.encode("utf-8" if smtputf8 else "ascii"), *body)
        return Rendered(chunks=chunks, message_id=message_id)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    data = head.encode("utf-8" if smtputf8 else "ascii") + body
    return Rendered(chunks=(data,), message_id=message_id)


__all__ = ["Rendered", "ascii_email", "make_message_id", "render"]
