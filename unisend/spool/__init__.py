"""Store and retry: :class:`Spool` keeps the messages no route accepts now and delivers
them later (SQLite by default, PostgreSQL for several machines).

Names load on first use, so the command line can import ``unisend.spool.cli`` cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._model import SpoolEntry, SpoolReport
    from ._spool import Spool

_LAZY = {"Spool": "._spool", "SpoolEntry": "._model", "SpoolReport": "._model"}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["Spool", "SpoolEntry", "SpoolReport"]
