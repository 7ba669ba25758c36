"""Griffe extension for the API reference (mkdocs.yml): the docstrings' doctest examples
(``>>> ...`` and their output, unfenced as doctest wants them) would render as nested
Markdown quotes; fence each run of them as a ``pycon`` code block instead."""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """``text`` with every run of doctest lines (a ``>>>`` line, its ``...`` lines and its
    output, up to a blank line) inside a ```pycon fence; fenced text is left alone."""
    lines = text.splitlines()
    out: list[str] = []
    fenced = in_example = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
        elif not fenced and not in_example and stripped.startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            in_example = True
        elif in_example and not stripped:
            out.append(f"{indent}```")
            in_example = False
        out.append(line)
    if in_example:
        out.append(f"{indent}```")
    return "\n".join(out)


class FenceDoctests(griffe.Extension):
    """Fence the doctest examples of every docstring."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring once the object tree is complete."""
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
