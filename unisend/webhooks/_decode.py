"""Reading provider JSON: the body limit, JSON and JSON Lines, field coercion and
timestamps. Every problem is a :class:`WebhookError` that says what was wrong, never
with the body's content in it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ._model import WebhookError

#: The largest body accepted, in bytes (10 MB): SendGrid batches and Brevo's 500-event
#: windows stay far below it.
MAX_BODY = 10 * 1024 * 1024


def check_size(body: bytes) -> None:
    """Raise WebhookError when ``body`` is over :data:`MAX_BODY`."""
    if len(body) > MAX_BODY:
        raise WebhookError(f"webhook body is {len(body)} bytes, over the 10 MB limit")


def load_json(body: bytes, provider: str) -> Any:
    """``json.loads(body)``, or WebhookError naming the position of the problem."""
    if not body.strip():
        raise WebhookError(f"{provider} webhook body is empty")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise WebhookError(
            f"{provider} webhook body is not JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno})"
        ) from None
    except (UnicodeDecodeError, RecursionError):
        raise WebhookError(f"{provider} webhook body is not UTF-8 JSON") from None


def json_lines(body: bytes, provider: str) -> Iterator[Any]:
    """Each non-blank line of a JSON Lines body, decoded."""
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except (ValueError, RecursionError):
            raise WebhookError(
                f"{provider} webhook body is neither JSON nor JSON Lines (line {number})"
            ) from None


def event_objects(document: Any, provider: str, field_name: str) -> list[Mapping[str, Any]]:
    """``document`` as a list of event objects (one object or an array of them), each
    with a string ``field_name``; anything else is not the provider's shape."""
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get(field_name), str):
            where = f"item {index} of the array" if isinstance(document, list) else "the body"
            raise WebhookError(
                f"{where} is not a {provider} event (a JSON object with a {field_name!r} "
                f"string); is this {provider}'s delivery-event webhook?"
            )
    return items


def text(value: Any) -> str | None:
    """A string field as ``str``, numbers as their decimal text; empty and other
    values as None."""
    if type(value) is str:  # the common cases first: this runs for every field
        return value or None
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def text_fields(item: Mapping[str, Any], names: tuple[str, ...]) -> list[str | None]:
    """``text(item.get(name))`` for each of ``names``, in one pass: the parsers' hot
    path, where strings and absent fields are the common cases."""
    return [
        (value or None) if type(value) is str else None if value is None else text(value)
        for value in map(item.get, names)
    ]


def string_map(value: Any) -> dict[str, str]:
    """A JSON object as ``dict[str, str]`` (non-string values as their JSON text);
    anything else as ``{}``."""
    if not isinstance(value, Mapping):
        return {}
    return {
        str(key): item if type(item) is str else json.dumps(item) for key, item in value.items()
    }


def json_string_map(value: Any) -> dict[str, str]:
    """A JSON object carried as a string (Mailjet ``Payload``, Brevo ``X-Mailin-custom``)
    as ``dict[str, str]``; a string that is not one gives ``{}``."""
    if not isinstance(value, str) or not value:
        return {}
    try:
        return string_map(json.loads(value))
    except (ValueError, RecursionError):
        return {}


def string_tuple(value: Any) -> tuple[str, ...]:
    """One string or a list of strings as a tuple (empty strings dropped)."""
    if type(value) is str:
        return (value,) if value else ()
    if type(value) is list:
        return tuple([item for item in value if type(item) is str and item])
    return ()


def from_unix(value: Any, provider: str, *, scale: float = 1.0) -> datetime | None:
    """Unix time (seconds, or ``scale=1000`` for milliseconds) as an aware UTC datetime;
    None when absent."""
    if value is None:
        return None
    if type(value) is int and scale == 1.0:  # the common case: whole seconds
        try:
            return datetime.fromtimestamp(value, timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise WebhookError(f"{provider} event has a timestamp out of range") from None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise WebhookError(f"{provider} event has a timestamp that is not Unix time")
    try:
        return datetime.fromtimestamp(value / scale, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise WebhookError(f"{provider} event has a timestamp out of range") from None


# ISO 8601 as Postmark writes it: 7 fractional digits and an offset
# ("2016-04-27T16:28:50.3963933-04:00"), which datetime.fromisoformat reads only from 3.11.
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?"
    r"\s*(Z|z|[+-]\d\d(?::?\d\d)?)?"
)


def from_iso(value: Any, provider: str) -> datetime | None:
    """An ISO 8601 timestamp (any number of fractional digits; no offset means UTC) as an
    aware UTC datetime; None when absent."""
    if value is None or value == "":
        return None
    match = _ISO.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise WebhookError(f"{provider} event has a timestamp that is not ISO 8601")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        zone = timezone.utc
        if offset and offset not in "Zz":
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
            zone = timezone(timedelta(minutes=sign * minutes))
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError:
        raise WebhookError(f"{provider} event has an impossible timestamp") from None
    return moment.astimezone(timezone.utc)
