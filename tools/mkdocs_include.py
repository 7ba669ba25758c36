"""MkDocs hook: pages that show a file from outside ``docs/`` (README.md, CHANGELOG.md,
SECURITY.md, benchmarks/RESULTS.md) say so with one line::

    <!-- include: CHANGELOG.md -->

The line is replaced by the file, its headings moved one level down when the page has its
own title (``<!-- include: FILE demote -->``), and its links rewritten to the site's pages
(``docs/errors.md`` -> ``errors.md``), so the root files stay the single source and
``mkdocs build --strict`` still checks every link. tests/test_docs.py reads the same
markers to account for the included code blocks.

It also shows the Sphinx roles of the docstrings (:class:`~unisend.Message`) in the
generated API reference as code (``Message``) instead of literally.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: Links in the included files to files outside docs/, and the page that shows each.
OUTSIDE = {
    "README.md": "index.md",
    "CHANGELOG.md": "changelog.md",
    "SECURITY.md": "security.md",
    "benchmarks/RESULTS.md": "performance.md",
    "LICENSE": "license.md",
}

MARKER = re.compile(r"^<!-- include: (?P<path>\S+)(?P<demote> demote)? -->$", re.MULTILINE)
_LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?P<anchor>#[^)\s]*)?\)")
_FENCE = re.compile(r"^(```|~~~)")


def _rewrite_link(match: re.Match[str], page_dir: str) -> str:
    target, anchor = match["target"], match["anchor"] or ""
    if re.match(r"^[a-z]+:", target):  # https:, mailto:
        return match[0]
    if target.startswith("docs/"):
        inside = target.removeprefix("docs/")
    elif target in OUTSIDE:
        inside = OUTSIDE[target]
    else:
        raise ValueError(
            f"an included file links to {target!r}, which is not a page of the site: "
            "link a docs/ page, or add the file to OUTSIDE in tools/mkdocs_include.py"
        )
    depth = page_dir.count("/") + 1 if page_dir else 0
    return f"]({'../' * depth}{inside}{anchor})"


def _demote(text: str) -> str:
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            line = "#" + line
        lines.append(line)
    return "\n".join(lines)


def expand(markdown: str, page_dir: str = "") -> str:
    """``markdown`` with every include marker replaced by the file it names.

    ``page_dir`` is the page's folder inside docs/ ("" for top-level pages).
    """

    def include(match: re.Match[str]) -> str:
        text = (ROOT / match["path"]).read_text(encoding="utf-8")
        text = _LINK.sub(lambda link: _rewrite_link(link, page_dir), text)
        return _demote(text) if match["demote"] else text

    return MARKER.sub(include, markdown)


def on_page_markdown(markdown: str, *, page: Any, config: Any, files: Any) -> str:
    """MkDocs hook: expand the include markers of each page."""
    folder = str(Path(page.file.src_uri).parent)
    return expand(markdown, "" if folder == "." else folder)


_ROLE = re.compile(
    r":(?:class|meth|func|mod|attr|data|exc|obj):<code>(?P<tilde>~?)(?P<target>[^<]+)</code>"
)


def _plain_role(match: re.Match[str]) -> str:
    target = match["target"]
    shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
    return f"<code>{shown}</code>"


def on_page_content(html: str, *, page: Any, config: Any, files: Any) -> str:
    """MkDocs hook: docstrings use Sphinx roles (:class:`~unisend.Message`), which the
    generated reference would show literally; show them as code (``Message``)."""
    return _ROLE.sub(_plain_role, html)
