"""The reconcile operator's warehouse side in real DAG runs: missing columns, sql mode without
created_at, and the report table replaced atomically. The Altcraft side is an export file."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.export_csv import REQUIRED_COLUMNS
from tests.dagrun import run_dag
from tests.export.test_export import run_output
from tests.reconcile.conftest import create_sqlite_warehouse
from tests.reconcile.test_reconcile import reconcile_dag

ALL_BUT_CREATED_AT = (
    "SELECT transaction_id, transaction_eid, amount, transaction_type, status "
    "FROM loyalty_transactions"
)
DAY = "2024-09-01T10:00:00Z"


@pytest.fixture
def warehouse(sqlite_warehouse: Path, tmp_path: Path) -> Path:
    """Altcraft's export has e-1; the warehouse has e-1 and e-2 (missing in Altcraft)."""
    with open(tmp_path / "export.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*REQUIRED_COLUMNS, "status"])
        writer.writerow(["101", "e-1", "10.00", "accrual", DAY, "active"])
    create_sqlite_warehouse(
        sqlite_warehouse,
        [
            ("101", "e-1", DAY, "accrual", "10.00", "active"),
            ("102", "e-2", DAY, "accrual", "20.00", "active"),
        ],
        "loyalty_transactions",
    )
    return sqlite_warehouse


def _run(tmp_path: Path, dag_id: str, sql: str, report_table: str | None = None) -> Any:
    reconcile = {
        "warehouse_conn_id": "warehouse",
        "sql": sql,
        "export_path": f"{tmp_path}/export.csv",
        "date_from": "2024-09-01",
        "date_to": "2024-09-01",
        "report_path": f"{tmp_path}/report.csv",
        "report_table": report_table,
        "on_difference": "warn",
        "retries": 1,
        "retry_delay_seconds": 0,
    }
    return run_dag(reconcile_dag(dag_id, reconcile))


def _report(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_missing_warehouse_column_fails_without_retry(
    airflow_db: Path,
    warehouse: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sql = (
        "SELECT transaction_id, transaction_eid, transaction_type, status FROM loyalty_transactions"
    )

    result = _run(tmp_path, "reconcile_no_amount", sql)

    assert result.state_of("reconcile") == "failed"
    assert result.try_numbers[("reconcile", -1)] == 1  # retries=1, but a retry cannot help
    assert (
        "Invalid argument: columns: the warehouse result has no amount (column 'amount'); "
        "it has transaction_id, transaction_eid, transaction_type, status"
    ) in run_output(capfd, caplog)


def test_sql_mode_reads_without_created_at(
    airflow_db: Path, warehouse: Path, tmp_path: Path
) -> None:
    # Default columns (created_at included), but the query has no created_at: it selects the
    # period itself, so the column is optional.
    result = _run(tmp_path, "reconcile_sql_no_created_at", ALL_BUT_CREATED_AT)

    assert result.state == "success"
    counts = result.xcom("reconcile")
    assert (counts["matched"], counts["differences"], counts["missing_in_altcraft"]) == (1, 1, 1)
    [row] = _report(tmp_path / "report.csv")
    assert (row["difference"], row["transaction_eid"], row["created_at"]) == (
        "missing_in_altcraft",
        "e-2",
        "",
    )


def test_failed_report_store_keeps_the_earlier_rows(
    airflow_db: Path,
    warehouse: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A report table that refuses the new rows (a NOT NULL column the operator does not fill):
    # the insert fails after the delete, so both must be one transaction.
    from airflow_provider_altcraft.operators.reconcile import REPORT_TABLE_PERIOD
    from airflow_provider_altcraft.reconciliation import REPORT_COLUMNS

    columns = (*REPORT_TABLE_PERIOD, *REPORT_COLUMNS)
    with sqlite3.connect(warehouse) as db:
        db.execute(
            f"CREATE TABLE report ({', '.join(f'{c} TEXT' for c in columns)}, note TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO report (period_from, period_to, difference, transaction_eid, note) "
            "VALUES ('2024-09-01', '2024-09-01', 'amount_differs', 'earlier', 'kept')"
        )
    db.close()

    sql = ALL_BUT_CREATED_AT.replace(" FROM", ", created_at FROM")
    result = _run(tmp_path, "reconcile_store_fails", sql, report_table="report")

    assert result.state_of("reconcile") == "failed"
    assert "NOT NULL constraint failed: report.note" in run_output(capfd, caplog)
    with sqlite3.connect(warehouse) as db:
        stored = db.execute("SELECT transaction_eid, note FROM report").fetchall()
    db.close()
    assert stored == [("earlier", "kept")]
