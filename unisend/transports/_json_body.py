"""Streamed JSON request bodies: a large attachment is never copied whole into memory.

A provider's JSON request holds each attachment as one base64 string; encoding the whole
document at once copies it several times (the str, the JSON text, its UTF-8 bytes).
:class:`JsonBody` writes the same bytes in chunks instead, and :func:`has_long_string`
tells the HTTP base when a document is worth it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from json.encoder import encode_basestring
from typing import Any

#: A JSON request body holding a string longer than this many characters (a base64
#: attachment) is streamed: see :class:`JsonBody`.
STREAM_STRING_CHARS = 256 * 1024
#: Characters of a long string encoded at a time when streaming.
_SLICE_CHARS = 1 << 20
# The ASCII bytes JSON writes as themselves (ensure_ascii=False, as httpx's json=).
_JSON_PLAIN = bytes(byte for byte in range(0x20, 0x7F) if byte not in b'"\\')


def _has_long_string(value: Any) -> bool:
    """Whether a str longer than STREAM_STRING_CHARS is anywhere in the JSON document
    ``value``. On every request, so exact types only (faster than isinstance): a
    subclass is not looked into, and its document is simply sent whole."""
    kind = type(value)
    if kind is str:
        return len(value) > STREAM_STRING_CHARS
    if kind is dict:
        value = value.values()
    elif kind is not list and kind is not tuple:
        return False
    for item in value:  # noqa: SIM110 - a third faster than any() over a generator
        if _has_long_string(item):
            return True
    return False


def _slices(value: str) -> Iterator[str]:
    for start in range(0, len(value), _SLICE_CHARS):
        yield value[start : start + _SLICE_CHARS]


def _is_plain(value: str) -> bool:
    """Whether JSON writes ``value`` as it is (base64 is): ASCII, nothing to escape."""
    if not value.isascii():
        return False
    return not any(part.encode("ascii").translate(None, _JSON_PLAIN) for part in _slices(value))


def _string_chunks(value: str, plain: bool) -> Iterator[bytes]:
    """``value`` as a JSON string (quotes included), UTF-8, a slice at a time: escaping is
    per character, so slices encode exactly as the whole would."""
    yield b'"'
    if plain:
        for part in _slices(value):
            yield part.encode("ascii")
    else:
        for part in _slices(value):
            yield encode_basestring(part)[1:-1].encode("utf-8")
    yield b'"'


class JsonBody:
    """A JSON document's UTF-8 bytes in chunks, byte for byte what httpx's ``json=``
    sends (compact separators, ``ensure_ascii=False``): the long strings in it are
    encoded a slice at a time as the body is written, so no copy of the whole body is
    made. Iterate it (sync) or :meth:`aiter` it (async); either may be repeated."""

    def __init__(self, document: Any) -> None:
        marker = f"unisend-{os.urandom(8).hex()}-"
        strings: list[str] = []

        def skeleton(value: Any) -> Any:
            if isinstance(value, str):
                if len(value) <= STREAM_STRING_CHARS:
                    return value
                strings.append(value)
                return f"{marker}{len(strings) - 1}"
            if isinstance(value, dict):
                return {key: skeleton(item) for key, item in value.items()}
            if isinstance(value, (list, tuple)):
                return [skeleton(item) for item in value]
            return value

        text = json.dumps(
            skeleton(document), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
        # marker + index, quoted: split out where the long strings go
        pieces = re.split(f'"{marker}(\\d+)"', text)
        #: bytes as they are, and (long string, whether it is plain) for the long strings
        self._parts: list[bytes | tuple[str, bool]] = []
        #: Length of the body in octets (its Content-Length).
        self.length = 0
        for index, piece in enumerate(pieces):
            if index % 2:
                value = strings[int(piece)]
                plain = _is_plain(value)
                self._parts.append((value, plain))
                self.length += (
                    len(value) + 2 if plain else sum(map(len, _string_chunks(value, plain)))
                )
            else:
                encoded = piece.encode("utf-8")
                self._parts.append(encoded)
                self.length += len(encoded)

    def headers(self) -> dict[str, str]:
        """The Content-Type and Content-Length headers ``json=`` would send."""
        return {"Content-Type": "application/json", "Content-Length": str(self.length)}

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, bytes):
                if part:
                    yield part
            else:
                yield from _string_chunks(*part)

    def aiter(self) -> AsyncIterable[bytes]:
        """The same chunks for an async client."""
        return _AsyncJsonBody(self)


class _AsyncJsonBody:
    """An async view of a :class:`JsonBody` (httpx takes an object with ``__iter__`` for a
    sync body, so the async one must not have it)."""

    def __init__(self, body: JsonBody) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._body:
            yield chunk


#: The public name of the check (``_has_long_string`` is kept for older callers).
has_long_string = _has_long_string

__all__ = ["STREAM_STRING_CHARS", "JsonBody", "has_long_string"]
