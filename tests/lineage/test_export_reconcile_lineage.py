"""OpenLineage of the export and reconcile operators, as the OpenLineage provider emits it in
a real DAG run.

The run happens in a subprocess (tests/dag_process.py runs ``dag.test()`` there) whose
environment turns the provider on with a file transport: the provider decides once per
process, at plugin load, whether its listener is registered, so this test process (whose
Airflow is already loaded without it) cannot switch it. The listener writes every event as a
JSON line; the COMPLETE events must name the datasets below, carry the run facets of counts,
and hold no e-mail, phone or token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import TOKEN
from tests.dagrun import copy_dag_file, dags_dir
from tests.lineage.support import datasets, run_with_lineage, task_event
from tests.needs import import_or_skip
from tests.reconcile.conftest import Scenario, create_sqlite_warehouse

import_or_skip("airflow.providers.openlineage", reason="the OpenLineage provider is not installed")

TABLE = "loyalty_transactions"
LEDGER = "loyalty/transactions"
#: The scenario's day (tests/dag_process.py runs on its own logical date).
SEPT_1 = {"date_from": "2024-09-01", "date_to": "2024-09-01"}


def run_reconcile_with_lineage(tmp_path: Path, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run tests/dags/reconcile_storage.py with ``spec`` and OpenLineage on; its events."""
    copy_dag_file("reconcile_storage", dags_dir(), spec)
    run, events = run_with_lineage(tmp_path, "reconcile_storage", spec["dag_id"])
    assert set(run["tasks"].values()) == {"success"}, run["tasks"]
    return events


def complete_event(
    events: list[dict[str, Any]], task_id: str, event_type: str = "COMPLETE"
) -> dict[str, Any]:
    return task_event(events, task_id, event_type)


def assert_no_personal_data(events: list[dict[str, Any]]) -> None:
    text = json.dumps(events)
    assert TOKEN not in text
    assert "@example.com" not in text
    assert "+1555" not in text


def ledger_of(sandbox: SandboxHandle) -> tuple[str, str]:
    return ("altcraft://" + sandbox.url.split("://", 1)[1].rstrip("/"), LEDGER)


def test_export_then_reconcile_name_their_files_tables_and_counts(
    airflow_db: Path,
    sandbox: SandboxHandle,
    scenario: Scenario,
    sqlite_warehouse: Path,
    tmp_path: Path,
) -> None:
    create_sqlite_warehouse(sqlite_warehouse, scenario.warehouse_rows, TABLE)
    export, report = tmp_path / "export.csv", tmp_path / "report.csv"
    spec = {
        "dag_id": "lineage_export_reconcile",
        "export": {"loyalty_program_id": 1, "points_currency_eid": "stars",
                   "output_path": str(export), **SEPT_1},
        "reconcile": {"warehouse_conn_id": "warehouse", "table": TABLE,
                      "export_path_from_xcom": True, "report_path": str(report),
                      "report_table": "reconcile_report", "on_difference": "warn",
                      "engine": "sqlite", **SEPT_1},
    }  # fmt: skip

    events = run_reconcile_with_lineage(tmp_path, spec)

    warehouse = f"sqlite://{sqlite_warehouse}"
    exported = complete_event(events, "export")
    assert datasets(exported["inputs"]) == {ledger_of(sandbox)}
    assert datasets(exported["outputs"]) == {("file", str(export))}
    facet = exported["run"]["facets"]["altcraft_export"]
    rows = len(export.read_text("utf-8").splitlines()) - 1  # the header
    assert (facet["rows"], facet["date_from"]) == (rows, "2024-09-01T00:00:00Z")
    assert facet["bytes"] == export.stat().st_size
    reconciled = complete_event(events, "reconcile")
    assert datasets(reconciled["inputs"]) == {("file", str(export)), (warehouse, TABLE)}
    assert datasets(reconciled["outputs"]) == {
        ("file", str(report)), (warehouse, "reconcile_report")
    }  # fmt: skip
    counts = reconciled["run"]["facets"]["altcraft_reconcile"]
    expected = scenario.expected_without_states()
    assert counts["differences"] == len(expected)
    assert counts["missing_in_altcraft"] == 1
    assert (counts["engine"], counts["state_compared"]) == ("sqlite", False)
    # The START events already name the datasets (the templates are rendered by then).
    for task_id, finished in (("export", exported), ("reconcile", reconciled)):
        started = complete_event(events, task_id, "START")
        assert datasets(started["inputs"]) == datasets(finished["inputs"])
        assert datasets(started["outputs"]) == datasets(finished["outputs"])
    assert_no_personal_data(events)


def test_a_reconcile_running_its_own_export_reads_the_ledger_and_the_querys_table(
    airflow_db: Path,
    sandbox: SandboxHandle,
    scenario: Scenario,
    sqlite_warehouse: Path,
    tmp_path: Path,
) -> None:
    create_sqlite_warehouse(sqlite_warehouse, scenario.warehouse_rows, TABLE)
    report = tmp_path / "report.csv"
    spec = {
        "dag_id": "lineage_reconcile_sql",
        "reconcile": {"warehouse_conn_id": "warehouse", "sql": f"SELECT * FROM {TABLE}",
                      "columns": {"created_at": None}, "loyalty_program_id": 1,
                      "points_currency_eid": "stars", "poll_interval": 0.1, "timeout": 10,
                      "report_path": str(report), "on_difference": "warn", **SEPT_1},
    }  # fmt: skip

    events = run_reconcile_with_lineage(tmp_path, spec)

    reconciled = complete_event(events, "reconcile")
    warehouse = f"sqlite://{sqlite_warehouse}"
    assert datasets(reconciled["inputs"]) == {ledger_of(sandbox), (warehouse, TABLE)}
    assert datasets(reconciled["outputs"]) == {("file", str(report))}
    assert reconciled["run"]["facets"]["altcraft_reconcile"]["warehouse_rows"] == len(
        scenario.warehouse_rows
    )
    assert_no_personal_data(events)
