"""What a batch task reads and writes, for OpenLineage: the rows (a file, or the tables of a
SQL query; inline rows are no dataset), the Altcraft ledger it writes to, its results file,
and a run facet of counts (never a row's key, eid, member or amount of one person).

Imported when the OpenLineage provider asks (after parsing): the SQL parser and the facet
classes are imported inside the functions, and everything returns None or nothing without
the provider, so a task never fails for lineage.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_altcraft import lineage
from airflow_provider_altcraft.batch.results import BatchSummary
from airflow_provider_altcraft.lineage import DatasetId

__all__ = ["batch_lineage"]

#: The run facet's key in the OpenLineage event (``run.facets.altcraft_batch``).
RUN_FACET = "altcraft_batch"


def _counts(summary: BatchSummary, operation: str) -> dict[str, Any]:
    """The run facet's fields: counts of one batch run (no personal data)."""
    return {
        "operation": operation,
        "rows": summary.rows,
        "sent": summary.sent,
        "already_present": summary.already_present,
        "unknown": summary.unknown,
        "failed": summary.failed,
        "skipped_invalid": summary.skipped_invalid,
        "duration_sec": round(summary.duration_sec, 3),
    }


def batch_lineage(
    *,
    inputs: list[DatasetId],
    base_url: str | None,
    results_path: str | None,
    summary: BatchSummary | None,
    operation: str,
) -> Any | None:
    """An ``OperatorLineage`` of a batch task (None without the OpenLineage provider)."""
    outputs = [] if base_url is None else [lineage.altcraft_ledger(base_url)]
    if results_path is not None:
        outputs.append(lineage.file_dataset(results_path))
    counts = None if summary is None else _counts(summary, operation)
    return lineage.operator_lineage(inputs, outputs, facet_key=RUN_FACET, counts=counts)
