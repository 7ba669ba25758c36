"""The email model: :class:`Message`, :class:`Address` and :class:`Attachment`.

Everything is validated at construction, so a bad message never reaches the network:
addresses (RFC 5322 syntax, IDN domains via UTS-46, non-ASCII local parts flagged as
needing SMTPUTF8), the control-character rule of every header-bearing field, lone
surrogates in any text, and the lengths that keep every header line within 998 octets.
And it stays valid: a built message holds tuples and read-only mappings
(:mod:`unisend._frozen`), so nothing can be added to it after the checks ran.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from ._errors import InvalidMessage
from ._frozen import EMPTY, NONE, FrozenDict, FrozenList, freeze

# Any Unicode Cc character (C0, DEL, C1 incl. NEL) plus the line and paragraph separators,
# and lone surrogates (what undecodable bytes become, e.g. in non-UTF-8 command-line
# arguments: UTF-8 cannot carry them, so they would fail at I/O time instead).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_CONTROL_BUT_TAB = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_QUOTED_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SEPARATOR = re.compile(r"[,;\s]")
# RFC 5322 atext, plus any non-ASCII character (RFC 6531 UTF8-non-ascii), written as
# what it excludes: controls, space and the specials. The same set as
# [A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff] (a test compares every code point),
# which takes re 7 ms to compile at import against 0.1 ms for this one.
_ATEXT = r'[^\x00-\x20\x7f"(),.:;<>@\[\\\]]'
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_QUOTED_LOCAL = re.compile(r'"(?:[^"\\\r\n]|\\.)*"')
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext: printable ASCII except ':'
_NAME_ADDR = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<email>[^<>]*)>\s*$", re.DOTALL)

# Frozen, strict about unknown fields. The validators are built on first use, not at
# import: ``from unisend import Message`` then costs what the classes cost, and the
# schema build (with pydantic's plugin scan of every installed package, ~25 ms) is
# paid by the first message, or never by a process that only imports unisend.
_MODEL_CONFIG = ConfigDict(frozen=True, extra="forbid", defer_build=True)

#: Longest header name: with its colon and space it fills a 78-character line (the RFC
#: 5322 2.1.1 recommendation), and with any first word still fits in 998 octets.
MAX_HEADER_NAME = 76
#: Longest token that cannot be folded (a content_id): with its header name it stays
#: well within a 998-octet line.
MAX_TOKEN = 900
_MAX_DOMAIN = 253  # RFC 1035 2.3.4, in its ASCII (punycode) form

#: Headers unisend writes itself; the value says which field to use instead.
RESERVED_HEADERS: Mapping[str, str] = {
    "from": "use Message(sender=...)",
    "sender": "use Message(sender=...)",
    "to": "use Message(to=...)",
    "cc": "use Message(cc=...)",
    "bcc": "use Message(bcc=...)",
    "reply-to": "use Message(reply_to=...)",
    "subject": "use Message(subject=...)",
    "date": "unisend sets Date when the message is sent",
    "message-id": "unisend sets Message-ID when the message is sent",
    "mime-version": "unisend writes the MIME structure itself",
    "content-type": "unisend writes the MIME structure itself",
    "content-transfer-encoding": "unisend writes the MIME structure itself",
    "content-disposition": "unisend writes the MIME structure itself",
    "content-id": "use Attachment(content_id=...)",
}


def check_no_control(field: str, value: str, *, allow_tab: bool = False) -> str:
    """Raise :class:`InvalidMessage` if ``value`` holds a control character or a lone
    surrogate.

    TAB is allowed only where ``allow_tab`` (subject and header values).
    """
    pattern = _CONTROL_BUT_TAB if allow_tab else _CONTROL
    found = pattern.search(value)
    if found is not None:
        if _SURROGATE.match(found.group()):
            raise _surrogate_error(field, found.group(), found.start())
        raise InvalidMessage(
            f"{field} contains the control character U+{ord(found.group()):04X} at index "
            f"{found.start()}; remove line breaks and control characters from {field}"
        )
    return value


def check_text(field: str, value: str) -> str:
    """Raise :class:`InvalidMessage` if ``value`` (a body, free-form data) holds a lone
    surrogate, which UTF-8 cannot carry."""
    if not value.isascii():
        found = _SURROGATE.search(value)
        if found is not None:
            raise _surrogate_error(field, found.group(), found.start())
    return value


def _surrogate_error(field: str, char: str, index: int) -> InvalidMessage:
    return InvalidMessage(
        f"{field} contains the lone surrogate U+{ord(char):04X} at index {index}, which "
        "UTF-8 cannot carry (an undecodable byte, e.g. from a non-UTF-8 command-line "
        f"argument or file name); pass {field} as valid Unicode text"
    )


def _check_data(field: str, value: Any) -> None:
    """Every string key and value in free-form data (template_data, provider_options)
    is valid Unicode."""
    if isinstance(value, str):
        check_text(field, value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                check_text(f"{field} key", key)
            _check_data(f"{field}[{key!r}]", item)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_data(f"{field}[{index}]", item)


def several_addresses(value: str) -> bool:
    """Whether ``value`` holds more than one address (``"a@x.com, b@x.com"``): two
    ``@`` and a separator (comma, semicolon or space) outside quoted strings."""
    if value.count("@") < 2:
        return False
    bare = _QUOTED_STRING.sub("", value)
    return bare.count("@") > 1 and _SEPARATOR.search(bare) is not None


def _one_address_please(field: str, value: str) -> InvalidMessage:
    if field == "sender":
        return InvalidMessage(
            f"sender: {value!r} holds more than one address; a message has one sender"
        )
    example = "['a@example.com', 'b@example.com']"
    if field in ("to", "cc", "bcc", "reply_to"):
        option = "--" + field.replace("_", "-")
        return InvalidMessage(
            f"{field}: {value!r} holds more than one address; give one address per string "
            f"and pass a list, e.g. {field}={example} (CLI: repeat {option} for each)"
        )
    return InvalidMessage(
        f"{field}: {value!r} holds more than one address; give one address per string "
        f"and pass a list, e.g. {example}"
    )


_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


@functools.lru_cache(maxsize=1024)
def _ascii_domain(domain: str) -> str:
    """The domain in ASCII (punycode for IDN); raises ``ValueError`` with the problem.

    Cached (only successes: ``lru_cache`` does not keep exceptions): bulk mail sends to
    many addresses at few domains, and UTS-46 mapping is the costly part of a check.
    """
    if domain.startswith("["):
        return _address_literal(domain)
    if not domain or domain.endswith(".") or ".." in domain:
        raise ValueError(f"{domain!r} is not a valid domain")
    if domain.isascii():
        ascii_domain = domain.lower()
        if len(ascii_domain) > _MAX_DOMAIN:
            raise ValueError(f"the domain {domain[:40]!r}... is over {_MAX_DOMAIN} characters")
        labels = ascii_domain.split(".")
        if any(not _LABEL.fullmatch(label) for label in labels):
            long = next((label for label in labels if len(label) > 63), None)
            if long is not None:
                raise ValueError(
                    f"the domain label {long[:40]!r}... is over 63 characters (RFC 1035)"
                )
            raise ValueError(f"{domain!r} is not a valid domain")
        if any(label.startswith("xn--") for label in labels):
            _idna_encode(ascii_domain)
        return ascii_domain
    return _idna_encode(domain)


def _address_literal(domain: str) -> str:
    """``[192.0.2.1]`` or ``[IPv6:2001:db8::1]`` (RFC 5321 4.1.3), as given."""
    import ipaddress

    inner = domain[1:-1] if domain.endswith("]") else ""
    try:
        if inner[:5].lower() == "ipv6:":
            ipaddress.IPv6Address(inner[5:])
        else:
            ipaddress.IPv4Address(inner)
    except ValueError:
        raise ValueError(
            f"{domain[:60]!r} is not an address literal; write [192.0.2.1] or "
            "[IPv6:2001:db8::1], or use a domain name"
        ) from None
    return domain


def _idna_encode(domain: str) -> str:
    import idna  # a dependency of httpx, so always present; loaded for the first IDN

    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"{domain!r} is not a valid domain ({exc})") from None


@functools.lru_cache(maxsize=4096)
def _analyse_email(email: str) -> tuple[str, str]:
    """``(ascii_email_or_empty, problem_or_empty)`` for ``email``.

    Cached: bulk mail repeats its senders and recipients, and an address is checked both
    where a field parses it and where the model validates it.
    """
    if several_addresses(email):
        return "", (
            f"{email!r} holds more than one address; give one address per string and pass a list"
        )
    if email != email.strip() or (" " in email and not email.startswith('"')):
        return "", f"{email!r} must not contain spaces"
    local, sep, domain = email.rpartition("@")
    if not sep or not local or not domain:
        return "", f"{email!r} is not an email address; write it as user@example.com"
    if not (_DOT_ATOM.fullmatch(local) or _QUOTED_LOCAL.fullmatch(local)):
        return "", f"the local part of {email!r} is not valid"
    if len(local.encode()) > 64:
        return "", f"the local part of {email!r} is over 64 octets"
    try:
        ascii_domain = _ascii_domain(domain)
    except ValueError as exc:
        return "", str(exc)
    return (f"{local}@{ascii_domain}" if local.isascii() else ""), ""


def _check_email(email: str, field: str) -> tuple[str, str]:
    """Validate ``email`` and return ``(email, ascii_email_or_empty)``."""
    check_no_control(field, email)
    ascii_email, problem = _analyse_email(email)
    if problem:
        raise InvalidMessage(f"{field}: {problem}")
    return email, ascii_email


class Address(BaseModel):
    """One mailbox: ``Address(email, name="")``.

    ``str()`` gives the RFC 5322 form, ``Name <user@example.com>``. IDN domains are
    accepted and sent as punycode (``ascii_email``); a non-ASCII local part needs
    SMTPUTF8 (``needs_smtputf8``).
    """

    model_config = _MODEL_CONFIG

    email: str
    name: str = ""

    def __init__(self, email: str = "", name: str = "", /, **kw: Any) -> None:
        kw.setdefault("email", email)
        kw.setdefault("name", name)
        try:
            super().__init__(**kw)
        except ValidationError as exc:
            raise InvalidMessage(_explain(exc, "invalid address")) from None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return check_no_control("address display name", name).strip()

    @field_validator("email")
    @classmethod
    def _valid_email(cls, email: str) -> str:
        return _check_email(email, "address")[0]

    @classmethod
    def parse(cls, value: str | Address | Mapping[str, str], field: str = "address") -> Address:
        """Build an Address from ``"Name <a@b.example>"``, ``"a@b.example"``, an Address or
        the JSON form ``{"email": ..., "name": ...}``."""
        if type(value) is str and cls is Address:
            try:
                return _parse_address_string(value)
            except InvalidMessage:
                pass  # parsed again below, so that the error names the field
            return cls._parse_string(value, field)
        if isinstance(value, Address):
            return value
        if isinstance(value, Mapping) and set(value) <= {"email", "name"}:
            # the JSON form pydantic dumps: {"email": ..., "name": ...}
            email, name = value.get("email"), value.get("name", "")
            if isinstance(email, str) and isinstance(name, str):
                _check_email(email, field)
                name = check_no_control(f"{field} display name", name).strip()
                if cls is Address:
                    return _checked_address(email, name)
                return cls.model_construct(email=email, name=name)
        if not isinstance(value, str):
            raise InvalidMessage(f"{field}: expected an address string, got {type(value).__name__}")
        return cls._parse_string(value, field)

    @classmethod
    def _parse_string(cls, value: str, field: str) -> Address:
        check_no_control(field, value)
        if several_addresses(value):
            raise _one_address_please(field, value)
        match = _NAME_ADDR.match(value)
        if match is None:
            email, name = value.strip(), ""
        else:
            email, name = match.group("email").strip(), match.group("name")
            if len(name) >= 2 and name[0] == name[-1] == '"':
                name = re.sub(r"\\(.)", r"\1", name[1:-1])
        # Validate here, so that the error names the field, then build without a second pass.
        _check_email(email, field)
        name = check_no_control(f"{field} display name", name).strip()
        return cls.model_construct(email=email, name=name)

    @property
    def domain(self) -> str:
        """The domain as written (may be Unicode)."""
        return self.email.rpartition("@")[2]

    @property
    def ascii_email(self) -> str:
        """The address with its domain in punycode; ``""`` if the local part is non-ASCII."""
        return _analyse_email(self.email)[0]  # cached: no second IDNA pass

    @property
    def needs_smtputf8(self) -> bool:
        """True when the local part is non-ASCII, so SMTP must use SMTPUTF8."""
        return not self.email.rpartition("@")[0].isascii()

    def __str__(self) -> str:
        if not self.name:
            return self.email
        if re.fullmatch(r"[\w !#$%&'*+/=?^`{|}~.-]+", self.name) and "." not in self.name:
            return f"{self.name} <{self.email}>"
        quoted = self.name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{self.email}>'


@functools.lru_cache(maxsize=4096)
def _checked_address(email: str, name: str) -> Address:
    """The Address of an email and name already checked, built once and shared (it is
    immutable): messages rebuilt from JSON (the spool, Celery) repeat their senders."""
    return Address.model_construct(email=email, name=name)


@functools.lru_cache(maxsize=4096)
def _parse_address_string(value: str) -> Address:
    """``Address.parse`` of a string, cached: an Address is immutable, so one parsed
    sender or recipient is shared by every message that names it (only successes are
    kept; a bad string raises every time)."""
    return Address._parse_string(value, "address")


class Attachment(BaseModel):
    """A file attached to a message; ``inline=True`` with a ``content_id`` for images
    referenced from the html as ``cid:...``."""

    model_config = _MODEL_CONFIG

    filename: str
    content: bytes
    content_type: str | None = None
    inline: bool = False
    content_id: str | None = None

    def __init__(
        self,
        filename: str = "",
        content: bytes = b"",
        content_type: str | None = None,
        inline: bool = False,
        content_id: str | None = None,
        /,
        **kw: Any,
    ) -> None:
        kw.setdefault("filename", filename)
        kw.setdefault("content", content)
        kw.setdefault("content_type", content_type)
        kw.setdefault("inline", inline)
        kw.setdefault("content_id", content_id)
        try:
            super().__init__(**kw)
        except ValidationError as exc:
            raise InvalidMessage(_explain(exc, "invalid attachment")) from None

    @field_validator("filename")
    @classmethod
    def _valid_filename(cls, filename: str) -> str:
        check_no_control("attachment filename", filename)
        if not filename.strip():
            raise InvalidMessage("attachment filename must not be empty")
        if "/" in filename or "\\" in filename:
            raise InvalidMessage(
                f"attachment filename {filename!r} must be a bare name without a directory"
            )
        return filename

    @field_validator("content_type")
    @classmethod
    def _valid_type(cls, content_type: str | None) -> str | None:
        if content_type is None:
            return None
        check_no_control("attachment content_type", content_type)
        # RFC 6838 4.2: type and subtype names are at most 127 characters each.
        if not re.fullmatch(
            r"[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}", content_type
        ):
            raise InvalidMessage(
                f"attachment content_type {content_type!r} must look like 'type/subtype'"
            )
        return content_type.lower()

    @field_validator("content_id")
    @classmethod
    def _valid_cid(cls, content_id: str | None) -> str | None:
        if content_id is None:
            return None
        check_no_control("attachment content_id", content_id)
        content_id = content_id.strip().removeprefix("<").removesuffix(">")
        if not re.fullmatch(r"[!-;=?-~]+", content_id):
            raise InvalidMessage(
                f"attachment content_id {content_id!r} must be printable ASCII without "
                "spaces or angle brackets"
            )
        if len(content_id) > MAX_TOKEN:
            raise InvalidMessage(
                f"attachment content_id is {len(content_id)} characters; at most {MAX_TOKEN} "
                "fit on a header line"
            )
        return content_id

    @model_validator(mode="after")
    def _inline_needs_cid(self) -> Attachment:
        if self.inline and not self.content_id:
            raise InvalidMessage(
                f"inline attachment {self.filename!r} needs a content_id, referenced from "
                "the html as cid:<content_id>"
            )
        return self

    @property
    def mimetype(self) -> str:
        """The content type, guessed from the filename when not given."""
        if self.content_type:
            return self.content_type
        guessed, _ = _guess_type(self.filename)
        return guessed or "application/octet-stream"

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        content_type: str | None = None,
        *,
        filename: str | None = None,
        inline: bool = False,
        content_id: str | None = None,
    ) -> Attachment:
        """Read a file from disk; ``content_type`` is guessed from its name when not
        given (``application/octet-stream`` when the name says nothing). A file that
        cannot be read is an :class:`InvalidMessage` naming the path."""
        file = Path(path)
        name = filename or file.name
        try:
            content = file.read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise InvalidMessage(
                f"attachment {str(path)!r} cannot be read ({reason}); check the path"
            ) from None
        if content_type is None:
            guessed, _ = _guess_type(name)
            content_type = guessed or "application/octet-stream"
        return cls(name, content, content_type, inline, content_id)

    def __repr__(self) -> str:
        return (
            f"Attachment(filename={self.filename!r}, content=<{len(self.content)} bytes>, "
            f"content_type={self.mimetype!r}, inline={self.inline})"
        )


def _guess_type(filename: str) -> tuple[str | None, str | None]:
    import mimetypes  # reads the system's type maps on first use

    return mimetypes.guess_type(filename, strict=False)


def _str_mapping(value: Any, field: str, example: str) -> Mapping[str, str]:
    """``value`` if it maps strings to strings, else InvalidMessage naming ``field``."""
    if type(value) is not dict and not isinstance(value, Mapping):
        raise InvalidMessage(f"{field} must map strings to strings, e.g. {example}")
    for key, item in value.items():
        if (type(key) is not str or type(item) is not str) and not (
            isinstance(key, str) and isinstance(item, str)
        ):
            raise InvalidMessage(
                f"{field} must map strings to strings, e.g. {example}; got {key!r}: "
                f"{type(item).__name__}"
            )
    return value


def _address_list(value: Any, field: str) -> FrozenList[Address]:
    if value is None:
        return NONE
    if isinstance(value, (str, Address)):
        return FrozenList((Address.parse(value, field),))
    if type(value) is not list and (isinstance(value, Mapping) or not hasattr(value, "__iter__")):
        raise InvalidMessage(f"{field}: expected an address or a list of addresses")
    if not value:
        return NONE
    return FrozenList([Address.parse(item, field) for item in value])


class Message(BaseModel):
    """One email, validated at construction.

    >>> Message(sender="Ann <ann@example.com>", to="bob@example.com",
    ...         subject="Hi", text="Hello Bob")  # doctest: +ELLIPSIS
    Message(...)

    Addresses accept ``"Name <a@b.example>"``, ``"a@b.example"`` or :class:`Address`;
    ``to``, ``cc``, ``bcc`` and ``reply_to`` also accept a single one. ``provider_options``
    is the escape hatch for provider-specific fields, keyed by provider name
    (``{"sendgrid": {"asm": {...}}}``); each transport merges only its own key.

    A built message cannot change: lists are kept as tuples and mappings as read-only
    dicts (``m.to[0].email``, ``m.headers["X-Id"]`` and ``dict(m.metadata)`` read as
    before; ``m.headers["X"] = "v"`` raises ``TypeError``). Make a changed copy with
    ``m.model_copy(update={"subject": "new"})``, which validates what it changes.
    """

    model_config = _MODEL_CONFIG

    # Immutable containers (see the class docs); the empty defaults are shared.
    sender: Address | None = None
    to: Sequence[Address] = NONE
    cc: Sequence[Address] = NONE
    bcc: Sequence[Address] = NONE
    reply_to: Sequence[Address] = NONE
    subject: str = ""
    text: str | None = None
    html: str | None = None
    attachments: Sequence[Attachment] = NONE
    headers: Mapping[str, str] = EMPTY
    tags: Sequence[str] = NONE
    metadata: Mapping[str, str] = EMPTY
    template_id: str | None = None
    template_data: Mapping[str, Any] | None = None
    send_at: datetime | None = None
    provider_options: Mapping[str, Mapping[str, Any]] = EMPTY

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidMessage(_explain(exc, "invalid message")) from None

    @field_validator("sender", mode="before")
    @classmethod
    def _parse_sender(cls, value: Any) -> Address | None:
        return None if value is None else Address.parse(value, "sender")

    @field_validator("to", "cc", "bcc", "reply_to", mode="plain")
    @classmethod
    def _parse_addresses(cls, value: Any, info: Any) -> FrozenList[Address]:
        return _address_list(value, info.field_name)

    @field_validator("subject")
    @classmethod
    def _valid_subject(cls, subject: str) -> str:
        return check_no_control("subject", subject, allow_tab=True)

    @field_validator("text", "html")
    @classmethod
    def _valid_body(cls, body: str | None, info: Any) -> str | None:
        return None if body is None else check_text(info.field_name, body)

    # The container fields are validated here in full ("plain"): pydantic's own
    # Sequence/Mapping validation would only build lists and dicts to be frozen again,
    # and costs more than the rest of a small message together.

    @field_validator("headers", mode="plain")
    @classmethod
    def _valid_headers(cls, value: Any) -> Mapping[str, str]:
        headers = _str_mapping(value, "headers", "{'X-Order-Id': '1234'}")
        if not headers:
            return EMPTY
        seen: set[str] = set()
        for name, value in headers.items():
            if not _HEADER_NAME.fullmatch(name):
                check_no_control("header name", name)
                raise InvalidMessage(
                    f"header name {name!r} must be printable ASCII without spaces or ':'"
                )
            if len(name) > MAX_HEADER_NAME:
                raise InvalidMessage(
                    f"header name {name[:40]!r}... is {len(name)} characters; header names "
                    f"are at most {MAX_HEADER_NAME} (RFC 5322 2.1.1 keeps header lines short)"
                )
            lower = name.lower()
            if lower in RESERVED_HEADERS:
                raise InvalidMessage(
                    f"header {name!r} is set by unisend; {RESERVED_HEADERS[lower]}"
                )
            if lower in seen:
                raise InvalidMessage(f"header {name!r} is given twice (names are case-blind)")
            seen.add(lower)
            check_no_control(f"header {name!r}", value, allow_tab=True)
        return FrozenDict(headers)

    @field_validator("tags", mode="plain")
    @classmethod
    def _valid_tags(cls, tags: Any) -> Sequence[str]:
        if type(tags) is not list and (
            isinstance(tags, (str, bytes, Mapping)) or not isinstance(tags, Iterable)
        ):
            raise InvalidMessage("tags must be a list of strings, e.g. ['welcome']")
        tags = list(tags)
        if not tags:
            return NONE
        for tag in tags:
            if not isinstance(tag, str):
                raise InvalidMessage(f"tags must be strings, got {type(tag).__name__}")
            check_no_control("tag", tag)
            if not tag.strip():
                raise InvalidMessage("tags must not be empty strings")
        return FrozenList(tags)

    @field_validator("attachments", mode="plain")
    @classmethod
    def _valid_attachments(cls, value: Any) -> Sequence[Attachment]:
        if type(value) is not list and (
            isinstance(value, (str, bytes, Mapping, Attachment)) or not isinstance(value, Iterable)
        ):
            raise InvalidMessage(
                "attachments must be a list of Attachment, e.g. [Attachment.from_path('a.pdf')]"
            )
        attachments = [Attachment(**item) if isinstance(item, Mapping) else item for item in value]
        for item in attachments:
            if not isinstance(item, Attachment):
                raise InvalidMessage(
                    f"attachments must be Attachment objects, got {type(item).__name__}"
                )
        return FrozenList(attachments) if attachments else NONE

    @field_validator("metadata", mode="plain")
    @classmethod
    def _valid_metadata(cls, value: Any) -> Mapping[str, str]:
        metadata = _str_mapping(value, "metadata", "{'order_id': '1234'}")
        if not metadata:
            return EMPTY
        for key, value in metadata.items():
            check_no_control("metadata key", key)
            check_no_control(f"metadata[{key!r}]", value)
        return FrozenDict(metadata)

    @field_validator("template_id")
    @classmethod
    def _valid_template_id(cls, template_id: str | None) -> str | None:
        return None if template_id is None else check_no_control("template_id", template_id)

    @field_validator("template_data", "provider_options")
    @classmethod
    def _frozen_data(cls, data: Mapping[str, Any] | None, info: Any) -> Any:
        if data is None:
            return None
        if not data:
            return EMPTY
        _check_data(info.field_name, data)
        return freeze(data)

    @field_validator("send_at")
    @classmethod
    def _aware_send_at(cls, send_at: datetime | None) -> datetime | None:
        if send_at is not None and send_at.utcoffset() is None:
            raise InvalidMessage(
                "send_at must be timezone-aware, e.g. datetime(..., tzinfo=timezone.utc)"
            )
        return send_at

    @model_validator(mode="after")
    def _complete(self) -> Message:
        if not self.to:
            raise InvalidMessage(
                "to must name at least one recipient (cc and bcc alone are not enough)"
            )
        if self.text is None and self.html is None and self.template_id is None:
            raise InvalidMessage("a message needs text, html or template_id")
        if self.template_data is not None and self.template_id is None:
            raise InvalidMessage("template_data needs template_id")
        return self

    @property
    def recipients(self) -> list[Address]:
        """Every envelope recipient: to, then cc, then bcc."""
        return [*self.to, *self.cc, *self.bcc]

    @property
    def needs_smtputf8(self) -> bool:
        """True when an address has a non-ASCII local part."""
        addresses = [*self.recipients, *self.reply_to]
        if self.sender is not None:
            addresses.append(self.sender)
        return any(address.needs_smtputf8 for address in addresses)

    def with_sender(self, sender: Address) -> Message:
        """Return this message with ``sender`` set (no re-validation needed)."""
        return super().model_copy(update={"sender": sender})

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Message:
        """A copy of this message; the fields in ``update`` are validated as by the
        constructor (pydantic's own ``model_copy`` would take them unchecked)."""
        if not update:
            return super().model_copy(deep=deep)
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        fields.update(update)
        return type(self)(**fields)

    def __repr__(self) -> str:
        sender = str(self.sender) if self.sender else None
        return (
            f"Message(sender={sender!r}, to={[a.email for a in self.to]!r}, "
            f"subject={self.subject!r})"
        )


def _explain(exc: ValidationError, what: str) -> str:
    """Turn pydantic's report into one sentence that names the field and the fix."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, InvalidMessage):
            problems.append(str(cause))  # already names its field
            continue
        location = ".".join(str(part) for part in error["loc"]) or "message"
        problems.append(f"{location}: {error['msg']}")
    return f"{what}: " + "; ".join(problems)


__all__ = [
    "MAX_HEADER_NAME",
    "MAX_TOKEN",
    "RESERVED_HEADERS",
    "Address",
    "Attachment",
    "Message",
    "check_no_control",
    "check_text",
    "several_addresses",
]
