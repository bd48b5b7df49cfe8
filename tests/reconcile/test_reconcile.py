"""The reconcile operator in real DAG runs: sandbox ledger against SQLite and PostgreSQL, on
every engine."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.reconciliation import DIFFERENCE_CLASSES, REPORT_COLUMNS
from tests.dagrun import load_test_dag, run_dag
from tests.export.ledger import run_covering
from tests.export.test_export import run_output
from tests.reconcile.conftest import (
    Scenario,
    create_postgres_warehouse,
    create_sqlite_warehouse,
    require_postgres,
    unique_table,
)

SEPT_1 = run_covering("2024-09-01")


def reconcile_dag(dag_id: str, reconcile: dict[str, Any], **spec: Any) -> Any:
    """tests/dags/reconcile_runs.py with these arguments (``export=``: an export upstream)."""
    return load_test_dag(
        "reconcile_runs", dag_id, data={"dag_id": dag_id, "reconcile": reconcile, **spec}
    )


def self_export_arguments(out: Path) -> dict[str, Any]:
    return {
        "warehouse_conn_id": "warehouse",
        "sql": "SELECT transaction_eid AS eid, transaction_id, amount, transaction_type, status "
        "FROM loyalty_transactions WHERE substr(created_at, 1, 10) = '2024-09-03'",
        "columns": {"transaction_eid": "eid", "created_at": None},
        "loyalty_program_id": 1,
        "points_currency_eid": "stars",
        "date_from": "2024-09-03",
        "date_to": "2024-09-03",
        "poll_interval": 0.1,
        "timeout": 10,
        "report_path": f"{out}/report.csv",
        "retries": 0,
    }


def fold_arguments(out: Path | str, date_from: str, date_to: str, engine: str) -> dict[str, Any]:
    return {
        "warehouse_conn_id": "warehouse",
        "table": "loyalty_transactions",
        "loyalty_program_id": 1,
        "points_currency_eid": "stars",
        "date_from": date_from,
        "date_to": date_to,
        "poll_interval": 0.1,
        "timeout": 10,
        "report_path": f"{out}/report.csv",
        "engine": engine,
        "retries": 0,
    }


def _report(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _listed(rows: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(r["difference"], r["transaction_eid"] or r["transaction_id"]) for r in rows}


SEPT_1_BOUNDS = ("2024-09-01T00:00:00Z", "2024-09-02T00:00:00Z")


def _expected_counts(expected: set[tuple[str, str]]) -> dict[str, int]:
    counts = dict.fromkeys(DIFFERENCE_CLASSES, 0)
    for difference, _ in expected:
        counts[difference] += 1
    return counts


def _run_reconcile(
    tmp_path: Path,
    *,
    dag_id: str,
    conn_id: str,
    table: str,
    report_table: str,
    policy: str,
    engine: str = "auto",
) -> Any:
    export = {
        "loyalty_program_id": 1,
        "points_currency_eid": "stars",
        "output_path": f"{tmp_path}/export.csv",
        "deferrable": True,
        "poll_interval": 0.1,
        "timeout": 10,
    }
    reconcile = {
        "warehouse_conn_id": conn_id,
        "table": table,
        "export_path": "{{ ti.xcom_pull(task_ids='export')['path'] }}",
        "report_path": f"{tmp_path}/report.csv",
        "report_table": report_table,
        "on_difference": policy,
        "engine": engine,
        "retries": 0,
    }
    dag = reconcile_dag(dag_id, reconcile, export=export, schedule="@daily")
    return run_dag(dag, logical_date=SEPT_1)


def _check_result(
    result: Any, expected: set[tuple[str, str]], tmp_path: Path, engine: str
) -> list[dict[str, str]]:
    assert result.state == "success"
    counts = result.xcom("reconcile")
    report = _report(tmp_path / "report.csv")
    assert list(report[0]) == list(REPORT_COLUMNS)
    assert _listed(report) == expected
    assert len(report) == len(expected)
    assert {k: counts[k] for k in DIFFERENCE_CLASSES} == _expected_counts(expected)
    assert counts["differences"] == len(expected)
    # Altcraft's 2024-09-01: ok, amount, state, type, only-altcraft, no-eid, temp = 7;
    # the warehouse's: the same less only-altcraft plus only-warehouse = 7; 6 pairs.
    assert (counts["altcraft_rows"], counts["warehouse_rows"], counts["matched"]) == (7, 7, 6)
    assert (counts["date_from"], counts["date_to"]) == SEPT_1_BOUNDS
    assert (counts["engine"], counts["committed_copies"]) == (engine, 0)
    amount_row = next(r for r in report if r["difference"] == "amount_differs")
    assert (amount_row["altcraft_amount"], amount_row["matched_on"]) == ("50", "transaction_eid")
    # One date-time format in the whole report: RFC3339 UTC.
    assert {r["created_at"][10:] for r in report} <= {"T09:10:00Z", "T09:20:00Z", "T09:30:00Z",
                                                       "T09:40:00Z", "T11:00:00Z"}  # fmt: skip
    return report


@pytest.mark.parametrize("engine", ["sqlite", "duckdb"])
def test_sqlite_warehouse_report_lists_exactly_the_differences(
    airflow_db: Path,
    scenario: Scenario,
    sqlite_warehouse: Path,
    tmp_path: Path,
    engine: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The strict sandbox exports only the fields the guide publishes: no status column.
    create_sqlite_warehouse(sqlite_warehouse, scenario.warehouse_rows, "loyalty_transactions")

    result = _run_reconcile(
        tmp_path,
        dag_id=f"reconcile_sqlite_{engine}",
        conn_id="warehouse",
        table="loyalty_transactions",
        report_table="reconcile_report",
        policy="warn",
        engine=engine,
    )

    report = _check_result(result, scenario.expected_without_states(), tmp_path, engine)
    assert result.xcom("reconcile")["state_compared"] is False
    assert "states not compared: the export has no status column" in run_output(capfd, caplog)
    with sqlite3.connect(sqlite_warehouse) as db:
        stored = db.execute(
            "SELECT period_from, period_to, difference, transaction_eid, transaction_id "
            "FROM reconcile_report"
        ).fetchall()
    db.close()
    assert {(d, eid or tid) for _, _, d, eid, tid in stored} == scenario.expected_without_states()
    assert {(f, t) for f, t, *_ in stored} == {SEPT_1_BOUNDS}
    assert len(stored) == len(report)


def test_differences_fail_the_task_by_default(
    airflow_db: Path,
    scenario: Scenario,
    sqlite_warehouse: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    create_sqlite_warehouse(sqlite_warehouse, scenario.warehouse_rows, "loyalty_transactions")

    result = _run_reconcile(
        tmp_path,
        dag_id="reconcile_fail",
        conn_id="warehouse",
        table="loyalty_transactions",
        report_table="reconcile_report",
        policy="fail",
    )

    assert result.state_of("reconcile") == "failed"
    assert result.try_numbers[("reconcile", -1)] == 1
    assert result.xcom("reconcile", key="counts")["differences"] == 4
    assert _listed(_report(tmp_path / "report.csv")) == scenario.expected_without_states()
    output = run_output(capfd, caplog)
    assert (
        "4 differences between Altcraft and the warehouse for 2024-09-01T00:00:00Z to "
        "2024-09-02T00:00:00Z"
    ) in output


def test_clean_period_reports_zero_with_own_export_and_sql(
    airflow_db: Path, scenario: Scenario, sqlite_warehouse: Path, tmp_path: Path
) -> None:
    create_sqlite_warehouse(sqlite_warehouse, scenario.warehouse_rows, "loyalty_transactions")
    dag = reconcile_dag("reconcile_clean", self_export_arguments(tmp_path), schedule="@daily")

    result = run_dag(dag)

    assert result.state == "success"
    counts = result.xcom("reconcile")
    assert counts["differences"] == 0
    assert (counts["altcraft_rows"], counts["warehouse_rows"], counts["matched"]) == (1, 1, 1)
    assert _report(tmp_path / "report.csv") == []


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["pushdown", "duckdb", "sqlite"])
def test_postgres_warehouse_report_lists_exactly_the_differences(
    airflow_db: Path,
    scenario: Scenario,
    sandbox: Any,
    postgres_url: str,
    postgres_tables: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
) -> None:
    import psycopg2

    # An export with the sandbox's unpublished status column: states are compared.
    sandbox.configure(unpublished_fields=True)
    table, report_table = unique_table("reconcile_tx"), unique_table("reconcile_report")
    postgres_tables.extend([table, report_table])
    create_postgres_warehouse(postgres_url, scenario.warehouse_rows, table)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_PG", postgres_url)

    result = _run_reconcile(
        tmp_path,
        dag_id=f"reconcile_postgres_{engine}",
        conn_id="warehouse_pg",
        table=table,
        report_table=report_table,
        policy="warn",
        engine=engine,
    )

    report = _check_result(result, scenario.expected, tmp_path, engine)
    assert result.xcom("reconcile")["state_compared"] is True
    state_row = next(r for r in report if r["difference"] == "state_differs")
    assert (state_row["altcraft_state"], state_row["warehouse_state"]) == ("cancelled", "active")
    with psycopg2.connect(postgres_url) as db, db.cursor() as cursor:
        cursor.execute(f"SELECT difference, transaction_eid, transaction_id FROM {report_table}")
        stored = cursor.fetchall()
    db.close()
    assert {(d, eid or tid) for d, eid, tid in stored} == scenario.expected
    assert len(stored) == len(report)
    # The push-down leaves nothing behind in the warehouse (its tables were temporary).
    with psycopg2.connect(postgres_url) as db, db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'altcraft_rc_%%'")
        assert cursor.fetchone() == (0,)
    db.close()


@pytest.mark.parametrize("ci", ["true", ""])
def test_unreachable_postgres_skips_locally_and_fails_on_ci(
    ci: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected) as raised:
        require_postgres("postgresql://postgres@127.0.0.1:1/test")
    if ci:
        assert "CI must run the PostgreSQL tests" in str(raised.value)
    else:
        assert "set ALTCRAFT_TEST_POSTGRES_URL" in str(raised.value)


@pytest.mark.parametrize("engine", ["sqlite", "duckdb"])
def test_a_committed_temporary_accrual_is_one_transaction(
    airflow_db: Path, sandbox: Any, sqlite_warehouse: Path, tmp_path: Path, engine: str
) -> None:
    # Committing a temporary accrual creates a new full transaction (new id, same eid, amount
    # and type) created at commit time: the export holds both rows, the warehouse one.
    from datetime import datetime, timedelta, timezone

    from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
    from tests.export.ledger import add_transaction

    now = datetime.now(timezone.utc).replace(microsecond=0)
    created = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    temp_id = add_transaction("accrue", "25.5", created, transaction_eid="held-1", is_temp=True)
    full_id = AltcraftHook().commit_transaction(transaction_eid="held-1").transaction_id
    assert full_id != temp_id
    create_sqlite_warehouse(
        sqlite_warehouse,
        [(None, "held-1", created, "accrual", "25.50", "active")],
        "loyalty_transactions",
    )
    arguments = fold_arguments(
        tmp_path,
        (now - timedelta(days=1)).date().isoformat(),
        (now + timedelta(days=1)).date().isoformat(),
        engine,
    )

    result = run_dag(reconcile_dag(f"reconcile_fold_{engine}", arguments))

    assert result.state == "success"
    counts = result.xcom("reconcile")
    assert (counts["altcraft_rows"], counts["committed_copies"], counts["differences"]) == (1, 1, 0)
    assert _report(tmp_path / "report.csv") == []


@pytest.mark.parametrize(
    ("engine", "problem"),
    [("spark", "engine: 'spark' is not an engine"), ("DuckDB", "'DuckDB' is not an engine")],
)
def test_a_bad_engine_fails_at_parse_time(airflow_db: Path, engine: str, problem: str) -> None:
    from airflow_provider_altcraft.exceptions import AltcraftValidationError

    arguments = fold_arguments("/tmp", "2024-09-01", "2024-09-01", engine)

    with pytest.raises(AltcraftValidationError) as raised:
        reconcile_dag("reconcile_bad_engine", arguments)

    assert problem in str(raised.value)
    assert "pass one of auto, sqlite, duckdb, pushdown" in str(raised.value)


def test_duckdb_asked_for_but_not_installed_fails_clearly(
    airflow_db: Path,
    sandbox: Any,
    sqlite_warehouse: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import sys

    create_sqlite_warehouse(sqlite_warehouse, [], "loyalty_transactions")
    monkeypatch.setitem(sys.modules, "duckdb", None)  # "import duckdb" raises ImportError
    arguments = fold_arguments(tmp_path, "2024-09-03", "2024-09-03", "duckdb")

    result = run_dag(reconcile_dag("reconcile_no_duckdb", arguments))

    assert result.state_of("reconcile") == "failed"
    assert (
        "Invalid argument: engine: engine 'duckdb' needs the duckdb package, which is not "
        "installed: install 'airflow-provider-altcraft[duckdb]'"
    ) in run_output(capfd, caplog)


def test_auto_uses_sqlite_without_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from airflow_provider_altcraft.reconcile import resolve_engine

    assert resolve_engine("auto") == "duckdb"  # the test extra installs it
    monkeypatch.setitem(sys.modules, "duckdb", None)
    assert resolve_engine("auto") == "sqlite"


def test_parsing_a_dag_imports_no_engine_or_driver() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import airflow_provider_altcraft.operators.reconcile\n"
        "print(sorted(m for m in ('duckdb', 'psycopg', 'psycopg2') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )

    assert result.stdout.strip().splitlines()[-1] == "[]"
