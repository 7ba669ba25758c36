"""DKIM signing (RFC 6376; Ed25519 from RFC 8463), for ``SMTPTransport(dkim=...)``.

Relaxed/relaxed canonicalization, SHA-256, RSA (PKCS#1 v1.5) or Ed25519 signatures made
with ``cryptography`` (the ``unisend[dkim]`` extra). The body hash is computed chunk by
chunk over the rendered message (:attr:`unisend._mime.Rendered.chunks`), so signing a
message with a large attachment makes no copy of it: only the head chunk gains the
``DKIM-Signature`` line.

The signed header fields are those of :data:`DEFAULT_HEADERS` present in the message;
``From`` is signed once more than it occurs ("oversigned"), so no second ``From`` can
be added after signing without breaking the signature.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import idna

from ._errors import ConfigurationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

#: ``algorithm=`` values.
ALGORITHMS = ("rsa-sha256", "ed25519-sha256")

#: Header fields signed by default (each only when the message has it).
DEFAULT_HEADERS = (
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "In-Reply-To",
    "References",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)

#: What ``private_key`` may be: PEM text or bytes, or the path of a PEM file.
PrivateKeySource = Union[str, bytes, "os.PathLike[str]"]

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_WSP = re.compile(rb"[ \t]+")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
#: Soft line length for the DKIM-Signature header (RFC 5322 2.1.1).
_LINE = 76


class DKIM:
    """Sign every message with DKIM: ``DKIM("example.com", "mail", key_pem)``.

    ``private_key``: the PEM text or bytes of the private key, or a path to a PEM file
    (an RSA key of at least 1024 bits, 2048 recommended, for ``"rsa-sha256"``; an Ed25519
    key for ``"ed25519-sha256"``). ``headers``: the header fields to sign (default
    :data:`DEFAULT_HEADERS`); it must include ``From``. Publish :meth:`dns_record` as a
    TXT record at :attr:`dns_name`. Needs ``pip install 'unisend[dkim]'``.
    """

    def __init__(
        self,
        domain: str,
        selector: str,
        private_key: PrivateKeySource,
        *,
        algorithm: str = "rsa-sha256",
        headers: Sequence[str] | None = None,
    ) -> None:
        self.domain = _dns_name("domain", domain)
        self.selector = _dns_name("selector", selector)
        if algorithm not in ALGORITHMS:
            raise ConfigurationError(
                f"DKIM algorithm={algorithm!r} is not one of {', '.join(ALGORITHMS)}"
            )
        self.algorithm = algorithm
        self.headers = _header_names(headers)
        self._key = _load_key(private_key, algorithm)

    def __repr__(self) -> str:
        return (
            f"DKIM(domain={self.domain!r}, selector={self.selector!r}, "
            f"algorithm={self.algorithm!r})"
        )

    @property
    def dns_name(self) -> str:
        """Where the public key is published: ``selector._domainkey.domain``."""
        return f"{self.selector}._domainkey.{self.domain}"

    def dns_record(self) -> str:
        """The TXT record to publish at :attr:`dns_name`, e.g. ``v=DKIM1; k=rsa; p=MIIB...``."""
        from cryptography.hazmat.primitives import serialization

        public = self._key.public_key()
        if self.algorithm == "ed25519-sha256":
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode('ascii')}"
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"

    def sign(self, message: bytes, *, timestamp: int | None = None) -> bytes:
        """The ``DKIM-Signature: ...`` header field (CRLF-terminated) for ``message``,
        an RFC 5322 message with CRLF line ends; prepend it to the message."""
        return self._signature((message,), timestamp)

    def sign_chunks(
        self, chunks: tuple[bytes, ...], *, timestamp: int | None = None
    ) -> tuple[bytes, ...]:
        """``chunks`` (consecutive pieces of one message, the first holding the whole
        header block) with the ``DKIM-Signature`` field prepended to the first."""
        signature = self._signature(chunks, timestamp)
        return (signature + chunks[0], *chunks[1:])

    # -- internals -----------------------------------------------------------------------

    def _signature(self, chunks: Sequence[bytes], timestamp: int | None) -> bytes:
        first = chunks[0]
        end = first.find(b"\r\n\r\n")
        if end < 0:
            raise ValueError("the first chunk must hold the whole header block")
        fields = _parse_fields(first[: end + 2])
        body = _RelaxedBody()
        body.update(first, end + 4)
        for chunk in chunks[1:]:
            body.update(chunk)
        body_hash = base64.b64encode(body.digest()).decode("ascii")

        # Bottom-up: of several instances of a field, the last is signed first (RFC 6376 5.4.2).
        remaining: dict[bytes, list[bytes]] = {}
        for field_name, raw in fields:
            remaining.setdefault(field_name.lower(), []).append(raw)
        signed_names: list[str] = []
        signed: list[bytes] = []
        for name in self.headers:
            instances = remaining.get(name.lower().encode("ascii"), [])
            for raw in reversed(instances):
                signed_names.append(name)
                signed.append(_relaxed_field(raw))
        signed_names.append("From")  # oversigned: no From may be added later

        when = int(time.time()) if timestamp is None else timestamp
        tags = [
            "v=1",
            f"a={self.algorithm}",
            "c=relaxed/relaxed",
            f"d={self.domain}",
            f"s={self.selector}",
            f"t={when}",
            f"h={':'.join(signed_names)}",
            f"bh={body_hash}",
        ]
        head = _fold(tags)
        data = b"".join(signed) + _relaxed_field(head).rstrip(b"\r\n")
        return head + _fold_b64(self._sign(data), len(head) - head.rfind(b"\n") - 1) + b"\r\n"

    def _sign(self, data: bytes) -> bytes:
        if self.algorithm == "ed25519-sha256":
            # RFC 8463: Ed25519 (PureEdDSA) over the SHA-256 hash of the header data.
            key: Any = self._key
            signature: bytes = key.sign(hashlib.sha256(data).digest())
            return signature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        rsa: Any = self._key
        signed: bytes = rsa.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return signed


class _RelaxedBody:
    """SHA-256 of a body under the relaxed canonicalization (RFC 6376 3.4.4), fed in
    pieces: runs of spaces and tabs become one space, none is kept at a line end, and
    empty lines at the end are dropped. A piece is hashed without a copy when it has no
    space or tab (base64 attachment data)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._partial = b""  # an incomplete last line, carried to the next piece
        self._pending = 0  # CRLFs held back: they only count if a non-empty line follows
        self._content = False  # whether a non-empty line was hashed

    def update(self, data: bytes, start: int = 0) -> None:
        last = data.rfind(b"\n", start)
        if last < 0:
            self._partial += data[start:]
            return
        if self._partial:
            first = data.find(b"\n", start) + 1
            self._lines(self._partial + data[start:first])
            self._partial = b""
            start = first
        self._lines(data, start, last + 1)
        self._partial = data[last + 1 :]

    def _lines(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        """Hash complete lines ``data[start:end]`` (ending in CRLF)."""
        end = len(data) if end is None else end
        if start >= end:
            return
        view: bytes | memoryview
        if data.find(b" ", start, end) >= 0 or data.find(b"\t", start, end) >= 0:
            view = _WSP.sub(b" ", data[start:end]).replace(b" \r\n", b"\r\n")
            start, end = 0, len(view)
        else:
            view = memoryview(data)
        stop = end
        while stop - 2 >= start and view[stop - 2 : stop] == b"\r\n":
            stop -= 2
        if stop > start:
            if self._pending:
                self._hash.update(b"\r\n" * self._pending)
            self._hash.update(view[start:stop])
            self._content = True
            self._pending = (end - stop) // 2
        else:
            self._pending += (end - start) // 2

    def digest(self) -> bytes:
        if self._partial:
            # A last line without CRLF gains one; its trailing space is kept, as dkimpy
            # does (a rendered message always ends in CRLF, so this is for sign()).
            if self._pending:
                self._hash.update(b"\r\n" * self._pending)
            self._hash.update(_WSP.sub(b" ", self._partial))
            self._partial, self._pending, self._content = b"", 0, True
        if self._content:
            # The last non-empty line's own CRLF (held back with the empty lines after it).
            self._hash.update(b"\r\n")
        return self._hash.digest()


def _parse_fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """(name, raw field with its CRLF) for each header field, folded lines joined."""
    fields: list[tuple[bytes, bytes]] = []
    for raw in re.split(rb"\r\n(?![ \t])", head):
        if not raw:
            continue
        name, colon, _ = raw.partition(b":")
        if colon:
            fields.append((name.strip(), raw + b"\r\n"))
    return fields


def _relaxed_field(raw: bytes) -> bytes:
    """Relaxed header canonicalization (RFC 6376 3.4.2)."""
    name, _, value = raw.partition(b":")
    value = _WSP.sub(b" ", _FOLD.sub(b"", value.rstrip(b"\r\n"))).strip(b" ")
    return name.strip(b" \t").lower() + b":" + value + b"\r\n"


def _fold(tags: list[str]) -> bytes:
    """``DKIM-Signature: tag; tag; ...; b=`` folded before a tag or a signed header name
    so that lines keep to the soft limit. Folding happens before signing: the signed form
    is the folded one, canonicalized (FWS is allowed there, RFC 6376 3.5)."""
    # (text, what joins it to the next atom on the same line)
    atoms: list[tuple[str, str]] = []
    for tag in tags:
        if tag.startswith("h="):
            names = tag[2:].split(":")
            atoms += [(f"h={names[0]}:", "")] + [(f"{name}:", "") for name in names[1:-1]]
            atoms.append((f"{names[-1]};", " "))
        else:
            atoms.append((f"{tag};", " "))
    atoms.append(("b=", ""))
    lines: list[str] = []
    line, joiner = "DKIM-Signature:", " "
    for text, after in atoms:
        if len(line) + len(joiner) + len(text) > _LINE and line.strip():
            lines.append(line)
            line = " " + text
        else:
            line += joiner + text
        joiner = after
    lines.append(line)
    return "\r\n".join(lines).encode("ascii")


def _fold_b64(signature: bytes, used: int) -> bytes:
    """The base64 signature, folded (FWS inside ``b=`` is ignored by verifiers)."""
    text = base64.b64encode(signature)
    first = max(_LINE - used, 8)
    pieces = [text[:first]]
    pieces += [text[i : i + _LINE - 1] for i in range(first, len(text), _LINE - 1)]
    return b"\r\n ".join(pieces)


def _dns_name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"DKIM needs a {what}, e.g. DKIM('example.com', 'mail', key)")
    try:
        name = idna.encode(value.strip().rstrip("."), uts46=True).decode("ascii")
    except idna.IDNAError:
        name = ""
    if not name or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise ConfigurationError(f"DKIM {what} {value!r} is not a valid DNS name")
    return name


def _header_names(headers: Sequence[str] | None) -> tuple[str, ...]:
    if headers is None:
        return DEFAULT_HEADERS
    if isinstance(headers, str) or not all(isinstance(h, str) for h in headers):
        raise ConfigurationError("DKIM headers= must be a list of header names, e.g. ['From']")
    names = tuple(dict.fromkeys(h.strip() for h in headers))
    bad = [name for name in names if not _FIELD_NAME.fullmatch(name)]
    if bad:
        raise ConfigurationError(f"DKIM headers= holds invalid header names: {bad!r}")
    if "from" not in {name.lower() for name in names}:
        raise ConfigurationError("DKIM headers= must include 'From' (RFC 6376 5.4)")
    return names


def _load_key(source: PrivateKeySource, algorithm: str) -> RSAPrivateKey | Ed25519PrivateKey:
    """Load the private key; messages name the path but never show key material."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    except ModuleNotFoundError:
        raise ConfigurationError(
            "DKIM signing needs the cryptography package: pip install 'unisend[dkim]'"
        ) from None
    if isinstance(source, (bytes, bytearray)):
        pem, origin = bytes(source), "the private_key bytes"
    elif isinstance(source, str) and "-----BEGIN" in source:
        pem, origin = source.encode("ascii", "replace"), "the private_key text"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the DKIM private key file {str(path)!r}: {exc.strerror}"
            ) from None
        origin = f"the DKIM private key file {str(path)!r}"
    else:
        raise ConfigurationError(
            "DKIM private_key must be PEM text or bytes, or the path of a PEM file"
        )
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        # The library's message may quote the input: never show it.
        raise ConfigurationError(
            f"{origin} is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)"
        ) from None
    if algorithm == "ed25519-sha256":
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ConfigurationError(f"{origin} is not an Ed25519 key (algorithm={algorithm!r})")
        return key
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(
            f"{origin} is not an RSA key; for an Ed25519 key pass algorithm='ed25519-sha256'"
        )
    if key.key_size < 1024:
        raise ConfigurationError(
            f"{origin} is a {key.key_size}-bit RSA key; verifiers refuse keys under 1024 "
            "bits (RFC 8301): use 2048"
        )
    return key


__all__ = ["ALGORITHMS", "DEFAULT_HEADERS", "DKIM"]
