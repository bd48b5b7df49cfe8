"""The export operator and sensor in real DAG runs against the sandbox."""

from __future__ import annotations

import logging
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.sandbox.ledger import PUBLISHED_FIELDS
from tests.dagrun import DagRunResult, load_test_dag, run_dag
from tests.export.ledger import add_transaction, csv_rows, ledger_rows_on, run_covering

SEPT_1 = run_covering("2024-09-01")


@pytest.fixture
def september_ledger(sandbox: Any) -> list[str]:
    """Transactions on 2024-08-31, 2024-09-01 (three, one cancelled) and 2024-09-02."""
    add_transaction("accrue", "10.00", "2024-08-31T23:59:59Z", transaction_eid="aug-31")
    ids = [
        add_transaction("accrue", "100.50", "2024-09-01T00:00:00Z", transaction_eid="sep-1-a"),
        add_transaction("redeem", "20.25", "2024-09-01T12:00:00Z", transaction_eid="sep-1-b"),
        add_transaction("accrue", "7.00", "2024-09-01T23:59:59Z", profile_id="p-2"),
    ]
    add_transaction("accrue", "1.00", "2024-09-02T00:00:00Z", transaction_eid="sep-2")
    return ids


def run_output(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    """What a DAG run logged: Airflow 3 prints task logs (structlog), Airflow 2 logs them."""
    out, err = capfd.readouterr()
    return caplog.text + out + err


def _run_export(dag_id: str, out_dir: Path) -> DagRunResult:
    """Run a DAG of tests/dags/export_runs.py on 2024-09-01, writing into ``out_dir``."""
    dag = load_test_dag("export_runs", dag_id)
    return run_dag(dag, logical_date=SEPT_1, conf={"out_dir": str(out_dir)})


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poll"])
def test_export_downloads_the_ledger_of_the_data_interval(
    airflow_db: Path, sandbox: Any, september_ledger: list[str], tmp_path: Path, deferrable: bool
) -> None:
    result = _run_export(f"export_ok_{'deferred' if deferrable else 'poll'}", tmp_path)

    assert result.state == "success"
    path = tmp_path / "transactions.csv"
    summary = result.xcom("export")
    assert summary["path"] == str(path)
    assert summary["rows"] == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "members' points: owner-only"
    # The data interval [2024-09-01, 2024-09-02): date_to is exclusive.
    assert (summary["date_from"], summary["date_to"]) == (
        "2024-09-01T00:00:00Z",
        "2024-09-02T00:00:00Z",
    )
    assert summary["export_task_id"] == result.xcom("export", key="export_task_id")
    rows = csv_rows(path)
    assert list(rows[0]) == list(PUBLISHED_FIELDS)  # the strict sandbox: published fields only
    expected = {
        tx["transaction_id"]: (tx["transaction_eid"] or "", Decimal(tx["amount"]))
        for tx in ledger_rows_on(sandbox, "2024-09-01")
    }
    assert {r["transaction_id"]: (r["transaction_eid"], Decimal(r["amount"])) for r in rows} == (
        expected
    )
    assert set(expected) == set(september_ledger)
    # Waiting happened by tasks/status only; the download came once.
    methods = [entry["method"] for entry in sandbox.requests()]
    assert methods.count("loyalty/transactions_export") == 1
    assert methods.count("download") == 1


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poll"])
def test_failed_export_fails_the_task_clearly(
    airflow_db: Path,
    sandbox: Any,
    tmp_path: Path,
    deferrable: bool,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sandbox.configure(export_mode="fail", export_delay_sec=0.1)
    with caplog.at_level(logging.ERROR):
        result = _run_export(f"export_fail_{deferrable}", tmp_path)

    assert result.state == "failed"
    assert result.state_of("export") == "failed"
    assert "Export failed (sandbox export_mode=fail)" in run_output(capfd, caplog)
    assert not (tmp_path / "transactions.csv").exists()


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poll"])
def test_stuck_export_times_out(
    airflow_db: Path,
    sandbox: Any,
    tmp_path: Path,
    deferrable: bool,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sandbox.configure(export_mode="stuck")
    with caplog.at_level(logging.ERROR):
        result = _run_export(f"export_stuck_{deferrable}", tmp_path)  # timeout=0.5

    assert result.state_of("export") == "failed"
    assert "did not complete within the timeout of 0.5 s" in run_output(capfd, caplog)
    assert not (tmp_path / "transactions.csv").exists()
