"""What the docs generators (gen_connection_docs.py, gen_metrics_docs.py,
gen_parameters_doc.py) share: a generated block between two markers of a hand-written page,
and the command line that writes the page or, with ``--check``, fails when it is stale."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def replace_between(page: Path, text: str, start: str, end: str, block: str) -> str:
    """``text`` (the content of ``page``) with everything from ``start`` to ``end`` (both
    kept) replaced by ``block``; a page without both markers stops the generator."""
    before, found_start, rest = text.partition(start)
    _, found_end, after = rest.partition(end)
    if not found_start or not found_end:
        raise SystemExit(f"{page.relative_to(REPO)}: the markers {start} and {end} are missing")
    return f"{before}{start}{block}{end}{after}"


def write_or_check(page: Path, wanted: str, script: str, argv: list[str]) -> int:
    """Write ``wanted`` to ``page`` when it differs; with ``--check`` in ``argv`` write nothing
    and return 1 when it differs (CI, tests)."""
    current = page.read_text(encoding="utf-8") if page.exists() else ""
    if current == wanted:
        return 0
    if "--check" in argv:
        print(f"{page.relative_to(REPO)} is out of date: run python scripts/{script}")
        return 1
    page.write_text(wanted, encoding="utf-8")
    print(f"wrote {page.relative_to(REPO)}")
    return 0
