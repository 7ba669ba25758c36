"""Collects the checks of one route (or of the domain) as they are made."""

from __future__ import annotations

from typing import Any

from ._model import Check, Status


class Results:
    """The checks of ``route`` so far, by id; a check added twice keeps the first."""

    def __init__(self, route: str | None) -> None:
        self.route = route
        self.checks: dict[str, Check] = {}

    def add(
        self, id: str, status: Status, summary: str, fix: str | None = None, /, **details: Any
    ) -> None:
        """Record check ``id`` (every ``warn`` and ``fail`` must say its ``fix``)."""
        assert status in ("ok", "skip") or fix, f"{id}: a {status} needs a fix"
        self.checks.setdefault(id, Check(id, self.route, status, summary, fix, details))

    def skip(self, ids: tuple[str, ...], why: str) -> None:
        """Mark every id not yet checked as skipped, saying ``why``."""
        for id in ids:
            self.add(id, "skip", f"not checked: {why}")


__all__ = ["Results"]
