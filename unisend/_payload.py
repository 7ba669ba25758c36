"""The versioned JSON form of a :class:`~unisend.Message`, for queues and stores.

The Celery task and the spool carry messages in this form: pydantic's JSON dump with
attachments in base64, under ``{"unisend": PAYLOAD_VERSION, "message": {...}}``. It never
holds a route or a credential: those come from the configuration of whoever sends.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from ._errors import InvalidMessage
from ._message import Address, Attachment, Message

#: Version of the JSON form of a message.
PAYLOAD_VERSION = 1
_ADDRESS_FIELDS = ("sender", "to", "cc", "bcc", "reply_to")


def message_to_payload(message: Message) -> dict[str, Any]:
    """The JSON-safe form of ``message``: pydantic's JSON dump, attachments in base64."""
    if not isinstance(message, Message):
        raise InvalidMessage(f"expected a unisend.Message, got {type(message).__name__}")
    data = message.model_dump(mode="json", exclude={"attachments"})
    data["attachments"] = [
        {
            "filename": a.filename,
            "content_b64": base64.b64encode(a.content).decode("ascii"),
            "content_type": a.content_type,
            "inline": a.inline,
            "content_id": a.content_id,
        }
        for a in message.attachments
    ]
    return {"unisend": PAYLOAD_VERSION, "message": data}


def _address(value: Any) -> Address:
    if isinstance(value, Mapping):
        return Address.parse(value, "payload address")  # checked, then shared
    raise InvalidMessage(f"payload address {value!r} must be an object with email and name")


def message_from_payload(payload: Mapping[str, Any]) -> Message:
    """Rebuild the :class:`~unisend.Message` that :func:`message_to_payload` dumped."""
    if not isinstance(payload, Mapping) or payload.get("unisend") != PAYLOAD_VERSION:
        raise InvalidMessage(
            f"not a unisend message payload (version {PAYLOAD_VERSION}): "
            "enqueue with send_later() or Spool.put()"
        )
    data = dict(payload["message"])
    for name in _ADDRESS_FIELDS:
        value = data.get(name)
        if name == "sender":
            data[name] = None if value is None else _address(value)
        else:
            data[name] = [_address(item) for item in value or ()]
    attachments = []
    for item in data.get("attachments") or ():
        try:
            content = base64.b64decode(item["content_b64"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise InvalidMessage("payload attachment content must be base64 text") from None
        attachments.append(
            Attachment(
                filename=item["filename"],
                content=content,
                content_type=item.get("content_type"),
                inline=bool(item.get("inline")),
                content_id=item.get("content_id"),
            )
        )
    data["attachments"] = attachments
    return Message(**data)


__all__ = ["PAYLOAD_VERSION", "message_from_payload", "message_to_payload"]
