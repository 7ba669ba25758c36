"""Every Python block of docs/webhooks.md runs as written (each in a fresh namespace, with
Django configured by the adapter tests' settings)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)

pytestmark = [pytest.mark.usefixtures("django_settings")]


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs(index: int) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(BLOCKS[index], f"{DOC.name}[{index}]", "exec"), {"__name__": f"doc{index}"})
    if "print(event.message_id, event.recipient" in BLOCKS[index]:
        expected = re.search(r"# (2706ee8a.*)", BLOCKS[index])
        assert expected is not None and out.getvalue().strip() == expected.group(1)
