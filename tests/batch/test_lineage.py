"""OpenLineage of the batch operators, as the OpenLineage provider emits it in a real DAG run.

The run happens in a subprocess (tests/dag_process.py runs ``dag.test()`` there) whose
environment turns the provider on with a file transport: the provider decides once per
process, at plugin load, whether its listener is registered, so this test process (whose
Airflow is already loaded without it) cannot switch it. The listener then writes every event
as one JSON line; the COMPLETE event of the batch task must name the rows file (or the SQL
table) as input and the Altcraft ledger and the results file as outputs, with a run facet of
counts, and hold no e-mail, phone or token.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.batch.conftest import MEMBERS, make_rows, write_csv
from tests.conftest import TOKEN
from tests.dagrun import copy_dag_file, dags_dir
from tests.lineage.support import datasets, run_with_lineage, task_event
from tests.needs import import_or_skip

import_or_skip("airflow.providers.openlineage", reason="the OpenLineage provider is not installed")


def run_batch_with_lineage(tmp_path: Path, dag_id: str, arguments: dict[str, Any]) -> list[Any]:
    """Run tests/dags/batch_operator.py with ``arguments`` and OpenLineage on; its events."""
    spec = {"dag_id": dag_id, "operator": "Redeem", "retries": 0, "arguments": arguments}
    copy_dag_file("batch_operator", dags_dir(), spec)
    run, events = run_with_lineage(tmp_path, "batch_operator", dag_id)
    assert run["tasks"] == {"batch": "success"}
    return events


def batch_event(events: list[Any], event_type: str) -> dict[str, Any]:
    return task_event(events, "batch", event_type)


def assert_no_personal_data(events: list[Any]) -> None:
    text = json.dumps(events)
    assert TOKEN not in text
    assert "@example.com" not in text
    assert "+1555100" not in text


def test_complete_event_names_the_rows_file_the_ledger_and_the_results(
    batch_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    rows = make_rows(30)
    source = write_csv(tmp_path / "rows.csv", rows)
    results = tmp_path / "out" / "results.csv"

    events = run_batch_with_lineage(
        tmp_path,
        "lineage_rows_file",
        {"rows_file": f"file://{source}", "results_path": str(results)},
    )

    ledger = ("altcraft://" + batch_sandbox.url.split("://", 1)[1].rstrip("/"),
              "loyalty/transactions")  # fmt: skip
    complete = batch_event(events, "COMPLETE")
    assert datasets(complete["inputs"]) == {("file", str(source))}
    assert datasets(complete["outputs"]) == {ledger, ("file", str(results))}
    facet = complete["run"]["facets"]["altcraft_batch"]
    assert {key: facet[key] for key in ("operation", "rows", "sent", "failed", "unknown")} == {
        "operation": "redeem", "rows": 30, "sent": 30, "failed": 0, "unknown": 0,
    }  # fmt: skip
    start = batch_event(events, "START")
    assert datasets(start["inputs"]) == {("file", str(source))}
    assert ledger in datasets(start["outputs"])
    assert_no_personal_data(events)


def test_sql_rows_are_lineage_of_their_table(
    batch_sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "orders.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE redemptions (order_id TEXT, email TEXT, amount TEXT)")
        conn.executemany(
            "INSERT INTO redemptions VALUES (?, ?, ?)",
            [(r["order_id"], r["email"], r["amount"]) for r in make_rows(MEMBERS)],
        )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ORDERS_DB", json.dumps({"conn_type": "sqlite", "host": str(db)})
    )

    events = run_batch_with_lineage(
        tmp_path,
        "lineage_sql",
        {"sql": "SELECT order_id, email, amount FROM redemptions", "sql_conn_id": "orders_db",
         "row_key_column": "order_id"},
    )  # fmt: skip

    complete = batch_event(events, "COMPLETE")
    assert datasets(complete["inputs"]) == {(f"sqlite://{db}", "redemptions")}
    assert complete["run"]["facets"]["altcraft_batch"]["sent"] == MEMBERS
    assert_no_personal_data(events)


def test_inline_rows_are_no_input_and_never_leave_the_task(
    batch_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    # The rows hold e-mails: the provider's own facets describe the task (its class, owner,
    # retries ...), and the batch's facet counts; neither may carry the rows.
    events = run_batch_with_lineage(tmp_path, "lineage_inline", {"rows": make_rows(12)})

    complete = batch_event(events, "COMPLETE")
    assert complete["inputs"] == []
    outputs = datasets(complete["outputs"])
    assert len(outputs) == 2 and any(ns == "file" for ns, _ in outputs)
    assert complete["run"]["facets"]["altcraft_batch"]["sent"] == 12
    assert_no_personal_data(events)


def test_object_storage_files_are_named_by_bucket_and_key(sandbox: SandboxHandle) -> None:
    from airflow_provider_altcraft.operators.batch import AltcraftBatchRedeemPointsOperator

    operator = AltcraftBatchRedeemPointsOperator(
        task_id="t",
        loyalty_program_id=1,
        rows_file="s3://aws_default@orders/in/2024-09-01.csv",
        results_path="gs://reports/altcraft/results.csv",
    )

    start = operator.get_openlineage_facets_on_start()

    assert [(d.namespace, d.name) for d in start.inputs] == [("s3://orders", "in/2024-09-01.csv")]
    assert {(d.namespace, d.name) for d in start.outputs} == {
        ("altcraft://" + sandbox.url.split("://", 1)[1].rstrip("/"), "loyalty/transactions"),
        ("gs://reports", "altcraft/results.csv"),
    }
