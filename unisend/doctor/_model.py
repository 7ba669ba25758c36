"""What the doctor returns: :class:`Check` (one finding) and :class:`Diagnosis` (all of them).

Both are plain data: a health view can serialise :meth:`Diagnosis.to_dict` as it is, and
``str(diagnosis)`` is the report the CLI prints (without colour).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warn", "fail", "skip"]

#: The stable check ids, in report order.
CHECK_IDS = (
    "config",
    "dns",
    "connect",
    "greeting",
    "tls",
    "certificate",
    "auth",
    "api-key",
    "mx",
    "spf",
    "dkim",
    "dmarc",
    "blocklist",
)
#: The checks of the sender domain (``route`` is None).
DOMAIN_IDS = ("mx", "spf", "dkim", "dmarc")


@dataclass(frozen=True)
class Check:
    """One finding: ``id`` (one of the stable check ids), ``route`` (the route's name;
    ``None`` for checks of the sender domain), ``status`` (``"ok"``, ``"warn"``,
    ``"fail"`` or ``"skip"``), a one-line ``summary``, the ``fix`` (what to do; set on
    every ``warn`` and ``fail``) and JSON-safe ``details``."""

    id: str
    route: str | None
    status: Status
    summary: str
    fix: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON-safe data."""
        return {
            "id": self.id,
            "route": self.route,
            "status": self.status,
            "summary": self.summary,
            "fix": self.fix,
            "details": _json_safe(self.details),
        }


@dataclass(frozen=True)
class Diagnosis:
    """Every check of one run. ``ok`` is true when no check failed; ``str()`` is the
    readable report and :meth:`to_dict` the JSON form."""

    checks: list[Check]
    #: The configuration URL with its secrets masked ("" when there was none).
    url: str = ""
    #: The sender domain checked, if any.
    domain: str | None = None

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings and skips do not count)."""
        return all(check.status != "fail" for check in self.checks)

    def check(self, id: str, route: str | None = None) -> Check | None:
        """The check ``id`` of ``route``; with ``route=None`` the first check of that id,
        whatever its route. ``None`` when there is none."""
        for check in self.checks:
            if check.id == id and (route is None or check.route == route):
                return check
        return None

    def to_dict(self) -> dict[str, Any]:
        """The diagnosis as JSON-safe data (what ``unisend doctor --json`` prints)."""
        counts = {status: 0 for status in ("ok", "warn", "fail", "skip")}
        for check in self.checks:
            counts[check.status] += 1
        return {
            "ok": self.ok,
            "url": self.url,
            "domain": self.domain,
            "counts": counts,
            "checks": [check.to_dict() for check in self.checks],
        }

    def __str__(self) -> str:
        from ._report import render

        return render(self, colour=False)


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


__all__ = ["CHECK_IDS", "DOMAIN_IDS", "Check", "Diagnosis", "Status"]
