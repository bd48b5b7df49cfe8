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
from scripts.generated_docs import replace_between, write_or_check  # noqa: E402

OUTPUT = REPO / "docs" / "metrics.md"
START = "<!-- metrics:start -->"
END = "<!-- metrics:end -->"


def render(page: str) -> str:
    """``page`` with the text between the markers replaced by the generated tables."""
    return replace_between(OUTPUT, page, START, END, f"\n{render_metrics_table()}")


def main(argv: list[str]) -> int:
    return write_or_check(
        OUTPUT, render(OUTPUT.read_text(encoding="utf-8")), Path(__file__).name, argv
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
