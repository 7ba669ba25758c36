"""docs/doctor.md's Python examples run; every troubleshooting link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import unisend

DOCS = Path(unisend.__file__).resolve().parent.parent / "docs"


def _anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_python_examples_in_doctor_md_run(capsys: object) -> None:
    text = (DOCS / "doctor.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "doctor.md", "exec"), {"__name__": "__main__"})


def test_links_to_troubleshooting_resolve() -> None:
    headings = {
        _anchor(line.lstrip("#"))
        for line in (DOCS / "troubleshooting.md").read_text().splitlines()
        if line.startswith("#")
    }
    links = []
    for page in ("errors.md", "doctor.md", "troubleshooting.md"):
        links += re.findall(r"troubleshooting\.md#([\w-]+)", (DOCS / page).read_text())
        links += [
            anchor
            for anchor in re.findall(r"\]\(#([\w-]+)\)", (DOCS / page).read_text())
            if page == "troubleshooting.md"
        ]
    assert links and set(links) <= headings, set(links) - headings
    # every check id has its section
    from unisend.doctor._model import CHECK_IDS

    assert set(CHECK_IDS) <= headings
