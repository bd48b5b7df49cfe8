"""The reconcile operator reading its export from, and writing its report to, object storage,
in real DAG runs against the sandbox and a SQLite warehouse.

``memory://`` is fsspec's in-memory filesystem, attached to Airflow's object-storage layer by
the DAG's first task (tests/dags/reconcile_storage.py); ``dag.test()`` runs the tasks in this
process, so the test reads back what they uploaded.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.operators.reconcile import AltcraftReconcileTransactionsOperator
from tests.export.storage_support import EXPORT, bucket, get, listing, put, storage_run
from tests.reconcile.conftest import Scenario, create_sqlite_warehouse

__all__ = ["bucket"]  # the fixture, imported for pytest

TABLE = "loyalty_transactions"


def listed(data: bytes) -> set[tuple[str, str]]:
    rows = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return {(r["difference"], r["transaction_eid"] or r["transaction_id"]) for r in rows}


def reconcile_arguments(report_path: str, **more: Any) -> dict[str, Any]:
    return {
        "warehouse_conn_id": "warehouse",
        "table": TABLE,
        "report_path": report_path,
        "on_difference": "warn",
        "engine": "sqlite",
        **more,
    }


@pytest.fixture
def warehouse(scenario: Scenario, sqlite_warehouse: Path) -> Scenario:
    create_sqlite_warehouse(sqlite_warehouse, scenario.warehouse_rows, TABLE)
    return scenario


def test_export_and_report_in_memory(airflow_db: Path, warehouse: Scenario, bucket: str) -> None:
    report = f"{bucket}/reports/2024-09-01.csv"

    run = storage_run(
        "reconcile_memory_both",
        export={**EXPORT, "output_path": f"{bucket}/exports/2024-09-01.csv"},
        reconcile=reconcile_arguments(report, export_path_from_xcom=True),
    )

    assert run.state == "success"
    counts = run.xcom("reconcile")
    assert counts["report_path"] == report
    assert listed(get(report)) == warehouse.expected_without_states()
    assert counts["differences"] == len(warehouse.expected_without_states())
    assert listing(bucket) == sorted(
        ["/" + report.removeprefix("memory://"),
         f"/{bucket.removeprefix('memory://')}/exports/2024-09-01.csv"]
    )  # fmt: skip


def test_an_export_file_uri_and_a_templated_report_file_uri(
    airflow_db: Path, warehouse: Scenario, tmp_path: Path
) -> None:
    export = tmp_path / "export.csv"
    report = tmp_path / "reconcile_file_uris" / "report.csv"

    run = storage_run(
        "reconcile_file_uris",
        export={**EXPORT, "output_path": str(export)},
        reconcile=reconcile_arguments(
            f"file://{tmp_path}/{{{{ dag_run.dag_id }}}}/report.csv",
            export_path=f"file://{export}",
        ),
    )

    assert run.state == "success"
    assert run.xcom("reconcile")["report_path"] == f"file://{report}"
    assert listed(report.read_bytes()) == warehouse.expected_without_states()


def test_the_report_of_a_failing_reconcile_is_uploaded(
    airflow_db: Path, warehouse: Scenario, bucket: str
) -> None:
    report = f"{bucket}/report.csv"

    run = storage_run(
        "reconcile_memory_fail",
        reconcile=reconcile_arguments(
            report,
            on_difference="fail",
            loyalty_program_id=1,
            points_currency_eid="stars",
            poll_interval=0.1,
            timeout=10,
        ),
    )

    assert run.state_of("reconcile") == "failed"
    assert run.xcom("reconcile", key="counts")["report_path"] == report
    assert listed(get(report)) == warehouse.expected_without_states()


def test_a_missing_remote_export_fails_in_one_sentence(
    airflow_db: Path, warehouse: Scenario, bucket: str, capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    put(f"{bucket}/other.csv", b"x")

    run = storage_run(
        "reconcile_memory_missing_export",
        reconcile=reconcile_arguments(f"{bucket}/report.csv", export_path=f"{bucket}/none.csv"),
    )

    assert run.state_of("reconcile") == "failed"
    out, err = capfd.readouterr()
    assert f"export_path: '{bucket}/none.csv' does not exist" in caplog.text + out + err
    assert listing(bucket) == [f"/{bucket.removeprefix('memory://')}/other.csv"]


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"report_path": "memory://bucket-x/"}, "report_path"),
        ({"report_path": "s3://bucket"}, "report_path"),
        ({"report_path": "r.csv", "export_path": "gs://bucket/dir/"}, "export_path"),
        # A templated argument elsewhere: the static paths are still checked at parse time.
        ({"report_path": "s3://b/", "sql": "SELECT {{ params.x }}", "table": None}, "report_path"),
    ],
)
def test_static_bad_uris_fail_when_the_dag_is_parsed(
    arguments: dict[str, Any], parameter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    given = {"warehouse_conn_id": "warehouse", "table": TABLE, "export_path": "e.csv", **arguments}
    with pytest.raises(AltcraftValidationError) as error:
        AltcraftReconcileTransactionsOperator(task_id="reconcile", **given)
    assert str(error.value).startswith(parameter)
    assert "names a bucket or a directory, not a file" in str(error.value)


def test_a_report_uri_this_worker_cannot_open_fails_before_the_export(
    airflow_db: Path, warehouse: Scenario, sandbox: Any
) -> None:
    sandbox.clear_requests()  # the scenario's own transactions

    run = storage_run(
        "reconcile_unknown_scheme",
        reconcile=reconcile_arguments(
            "nosuchfs://bucket/{{ dag_run.dag_id }}.csv",
            loyalty_program_id=1,
            points_currency_eid="stars",
            poll_interval=0.1,
            timeout=10,
        ),
    )

    assert run.state_of("reconcile") == "failed"
    assert sandbox.requests() == []
