"""Store and retry: :class:`Spool` keeps the messages no route accepts now and delivers
them later (SQLite by default, PostgreSQL for several machines).

Names load on first use, so the command line can import ``unisend.spool.cli`` cheaply.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._model import SpoolEntry, SpoolReport
    from ._spool import Spool

_LAZY = {"Spool": "._spool", "SpoolEntry": "._model", "SpoolReport": "._model"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'unisend.spool' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = ["Spool", "SpoolEntry", "SpoolReport"]
