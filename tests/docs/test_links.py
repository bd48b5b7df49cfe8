"""Every relative link in README.md, the top-level Markdown files and docs/*.md points to a file
that exists, and an anchor to a heading that exists (GitHub's and MyST's heading slugs)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from tests.docs.markdown import DOCS, REPO, heading_anchors, links, markdown_files


def test_relative_links_resolve() -> None:
    broken: list[str] = []
    checked = 0
    for page in markdown_files():
        text = page.read_text(encoding="utf-8")
        for target in links(text):
            parts = urlsplit(target)
            if parts.scheme or target.startswith("//"):
                continue  # absolute URLs, mailto:
            checked += 1
            where = f"{page.relative_to(REPO)}: ({target})"
            path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not path.exists():
                broken.append(f"{where}: no such file")
                continue
            if parts.fragment and path.suffix == ".md":
                anchors = heading_anchors(path.read_text(encoding="utf-8"))
                if parts.fragment not in anchors:
                    broken.append(f"{where}: no heading with the anchor #{parts.fragment}")
    assert checked > 50
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_page_is_in_the_toctree() -> None:
    """Sphinx -W fails on a page in no toctree; this says so before a docs build."""
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    listed = {line.strip() for line in index.split("\n")}
    missing = [
        page.name for page in DOCS.glob("*.md") if page.stem != "index" and page.stem not in listed
    ]
    assert not missing, f"add to a toctree of docs/index.md: {missing}"
