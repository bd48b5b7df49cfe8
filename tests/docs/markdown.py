"""Reading the Markdown pages: code blocks, included regions, links and heading anchors."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
#: Pages other helpers own; their content is theirs, but their links are checked like any.
FOREIGN_PAGES = {"reconcile-performance.md", "storage.md", "lineage.md", "metrics.md", "assets.md"}
#: The Markdown files of the repository that readers follow links in.
TOP_FILES = ("README.md", "CHANGELOG.md", "CONTRIBUTING.md", "SECURITY.md")

_FENCE = re.compile(r"^(```+|~~~+)(.*)$")


@dataclass(frozen=True)
class CodeBlock:
    info: str  # the fence's info string: "python", "{literalinclude} ../x.py", ...
    body: str
    line: int  # 1-based line of the opening fence
    comment: str | None  # the HTML comment on the line before the fence, if any


def markdown_files() -> list[Path]:
    files = [REPO / name for name in TOP_FILES if (REPO / name).exists()]
    return files + sorted(DOCS.glob("*.md"))


def code_blocks(text: str) -> list[CodeBlock]:
    blocks: list[CodeBlock] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening.group(1)
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and not lines[index].startswith(fence):
            body.append(lines[index])
            index += 1
        previous = lines[start - 1].strip() if start > 0 else ""
        comment = previous if previous.startswith("<!--") else None
        blocks.append(CodeBlock(opening.group(2).strip(), "\n".join(body), start + 1, comment))
        index += 1
    return blocks


def region(path: Path, name: str) -> str:
    """The text between ``# [START name]`` and ``# [END name]``, dedented."""
    text = path.read_text(encoding="utf-8")
    starts = re.findall(rf"^[ \t]*# \[START {re.escape(name)}\]$", text, re.M)
    ends = re.findall(rf"^[ \t]*# \[END {re.escape(name)}\]$", text, re.M)
    assert len(starts) == 1 and len(ends) == 1, f"{path}: region {name!r} is not marked once"
    found = re.search(
        rf"^[ \t]*# \[START {re.escape(name)}\]\n(.*?)^[ \t]*# \[END {re.escape(name)}\]$",
        text,
        re.S | re.M,
    )
    assert found is not None, f"{path}: the END of region {name!r} comes before its START"
    return textwrap.dedent(found.group(1)).strip("\n")


def without_code(text: str) -> str:
    """The page without fenced blocks and inline code (links in code are not links)."""
    return re.sub(r"`[^`\n]*`", "", without_code_blocks(text))


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub (and MyST's ``myst_heading_anchors``) give the page's headings."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in without_code_blocks(text).split("\n"):
        heading = re.match(r"^#{1,6} (.*)$", line)
        if heading is None:
            continue
        slug = heading.group(1).strip().lower().replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", slug).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def without_code_blocks(text: str) -> str:
    """The page without its fenced blocks."""
    kept: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opening = _FENCE.match(line)
        if fence is None and opening is not None:
            fence = opening.group(1)
            continue
        if fence is not None:
            if line.startswith(fence):
                fence = None
            continue
        kept.append(line)
    return "\n".join(kept)


def links(text: str) -> list[str]:
    """The targets of the page's Markdown links, ``[text](target)``."""
    return re.findall(r"\]\(([^)\s]+)\)", without_code(text))
