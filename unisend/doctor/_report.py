"""The human report: one line per check, grouped by route, the fix under each problem."""

from __future__ import annotations

from ._model import DOMAIN_IDS, Check, Diagnosis

_COLOURS = {"ok": "32", "warn": "33", "fail": "31", "skip": "2"}
_LABELS = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def _paint(text: str, status: str, colour: bool) -> str:
    return f"\033[{_COLOURS[status]}m{text}\033[0m" if colour else text


def _line(check: Check, colour: bool) -> list[str]:
    label = _paint(f"{_LABELS[check.status]:<4}", check.status, colour)
    lines = [f"  {label}  {check.id:<11}  {check.summary}"]
    if check.fix and check.status in ("warn", "fail"):
        lines.append(f"  {'':<4}  {'':<11}  fix: {check.fix}")
    return lines


def render(diagnosis: Diagnosis, *, colour: bool = False) -> str:
    """The report as text; ``colour`` adds ANSI colours (for a terminal)."""
    counts = {status: 0 for status in _LABELS}
    for check in diagnosis.checks:
        counts[check.status] += 1
    verdict = "no problem found" if diagnosis.ok else f"{counts['fail']} check(s) failed"
    head = f"unisend doctor: {verdict}"
    if counts["warn"]:
        head += f", {counts['warn']} warning(s)"
    lines = [_paint(head, "ok" if diagnosis.ok else "fail", colour)]
    groups: dict[tuple[str, str | None], list[Check]] = {}
    for check in diagnosis.checks:
        kind = "route" if check.route else ("domain" if check.id in DOMAIN_IDS else "url")
        groups.setdefault((kind, check.route), []).append(check)
    for (kind, route), checks in groups.items():
        lines.append("")
        if kind == "domain":
            lines.append(
                f"domain {diagnosis.domain}" if diagnosis.domain else "domain (none given)"
            )
        elif kind == "url":
            lines.append(f"url {diagnosis.url}" if diagnosis.url else "url (none given)")
        else:
            url = next((c.details.get("url") for c in checks if c.id == "config"), None)
            lines.append(f"route {route}" + (f"  {url}" if url else ""))
        for check in checks:
            lines += _line(check, colour)
    return "\n".join(lines) + "\n"


__all__ = ["render"]
