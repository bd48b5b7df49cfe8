"""What an export or a reconcile task read and wrote, for OpenLineage.

- export: input the Altcraft ledger, output the export file; run facet ``altcraft_export``
  (rows, bytes, rows dropped at the period's bounds, the period);
- reconcile: inputs the export file (or the ledger, when the task ran its own export) and the
  warehouse table(s); outputs the report file (and the report table); run facet
  ``altcraft_reconcile`` (the counts of each difference class, rows on each side, the engine).

Counts only: never a transaction, a member, an eid or an amount. Imported when the
OpenLineage provider asks (after parsing); without the provider everything returns None, so a
task never fails for lineage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_altcraft import lineage
from airflow_provider_altcraft.lineage import DatasetId

__all__ = [
    "EXPORT_FACET",
    "RECONCILE_FACET",
    "export_lineage",
    "reconcile_lineage",
]

#: The run facets' keys in the OpenLineage event (``run.facets.<key>``).
EXPORT_FACET = "altcraft_export"
RECONCILE_FACET = "altcraft_reconcile"

#: The summary keys each facet carries (all counts or period bounds).
EXPORT_FACET_FIELDS = ("rows", "bytes", "dropped_at_bounds", "date_from", "date_to")
RECONCILE_FACET_FIELDS = (
    "missing_in_altcraft",
    "missing_in_warehouse",
    "amount_differs",
    "type_differs",
    "state_differs",
    "differences",
    "altcraft_rows",
    "warehouse_rows",
    "matched",
    "committed_copies",
    "state_compared",
    "engine",
    "date_from",
    "date_to",
)


def _lineage(
    inputs: Sequence[DatasetId],
    outputs: Sequence[DatasetId],
    facet_key: str,
    summary: Mapping[str, Any] | None,
    names: Sequence[str],
) -> Any | None:
    counts = None if summary is None else {name: summary.get(name) for name in names}
    return lineage.operator_lineage(inputs, outputs, facet_key=facet_key, counts=counts)


def export_lineage(
    *, base_url: str | None, output_path: str | None, summary: Mapping[str, Any] | None
) -> Any | None:
    """An ``OperatorLineage`` of an export task (None without the OpenLineage provider)."""
    inputs = [] if base_url is None else [lineage.altcraft_ledger(base_url)]
    outputs = [] if output_path is None else [lineage.file_dataset(output_path)]
    return _lineage(inputs, outputs, EXPORT_FACET, summary, EXPORT_FACET_FIELDS)


def reconcile_lineage(
    *,
    altcraft_input: DatasetId | None,
    warehouse_inputs: Sequence[DatasetId],
    report_path: str | None,
    report_tables: Sequence[DatasetId],
    summary: Mapping[str, Any] | None,
) -> Any | None:
    """An ``OperatorLineage`` of a reconcile task (None without the OpenLineage provider)."""
    inputs = [*([altcraft_input] if altcraft_input else []), *warehouse_inputs]
    outputs = [lineage.file_dataset(report_path)] if report_path is not None else []
    outputs.extend(report_tables)
    return _lineage(inputs, outputs, RECONCILE_FACET, summary, RECONCILE_FACET_FIELDS)
