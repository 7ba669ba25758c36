"""The sandbox store's table and where it lives, shared by ``sandbox://`` and the local
inbox (``unisend sandbox serve``). Kept free of pydantic so the inbox starts fast."""

from __future__ import annotations

from pathlib import Path

#: The environment variable naming the sandbox file.
ENV_VAR = "UNISEND_SANDBOX"
#: Where the sandbox lives when neither the URL nor ``UNISEND_SANDBOX`` says.
DEFAULT_PATH = Path(".unisend") / "sandbox.sqlite3"
#: Seconds a writer waits for another process's lock before giving up.
BUSY_TIMEOUT = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        TEXT NOT NULL,
    sender      TEXT NOT NULL,
    recipients  TEXT NOT NULL,
    subject     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    route       TEXT NOT NULL,
    raw         BLOB NOT NULL
)
"""

__all__ = ["BUSY_TIMEOUT", "DEFAULT_PATH", "ENV_VAR", "SCHEMA"]
