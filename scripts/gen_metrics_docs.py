#!/usr/bin/env python3
"""Write the metric tables of docs/metrics.md (between its ``<!-- metrics:start -->`` and
``<!-- metrics:end -->`` markers) from the one declaration of the metrics
(airflow_provider_altcraft/metrics.py: METRICS, TAGS).

    python scripts/gen_metrics_docs.py          # rewrite the tables
    python scripts/gen_metrics_docs.py --check  # exit 1 if the page differs (CI, tests)

tests/metrics/test_metrics.py fails when the page and the declaration differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airflow_provider_altcraft.metrics import render_metrics_table  # noqa: E402

OUTPUT = REPO / "docs" / "metrics.md"
START = "<!-- metrics:start -->"
END = "<!-- metrics:end -->"


def render(page: str) -> str:
    """``page`` with the text between the markers replaced by the generated tables."""
    head, start, rest = page.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{OUTPUT.relative_to(REPO)} has no {START} ... {END} markers")
    return f"{head}{START}\n{render_metrics_table()}{END}{tail}"


def main(argv: list[str]) -> int:
    current = OUTPUT.read_text(encoding="utf-8")
    text = render(current)
    if "--check" in argv:
        if current != text:
            print(f"{OUTPUT.relative_to(REPO)} is out of date: run {Path(__file__).name}")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
