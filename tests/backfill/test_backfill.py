"""The backfill example DAG: historical adjustments reach the ledger exactly once, dated."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.dagrun import example_dag, run_dag
from tests.export.ledger import run_covering

#: eid → (transaction_type, amount, created_at) of the demo warehouse's adjustments.
DEMO_ADJUSTMENTS = {
    "adj-1": ("accrual", "25.00", "2024-09-01T09:15:00Z"),
    "adj-2": ("redeem", "10.50", "2024-09-01T14:02:11Z"),
    "adj-3": ("redeem", "40.00", "2024-09-02T08:00:00Z"),
    "adj-4": ("accrual", "5.25", "2024-09-02T23:59:59Z"),
    "adj-5": ("accrual", "100.00", "2024-09-03T00:00:00Z"),
    "adj-6": ("redeem", "20.00", "2024-09-03T17:45:30Z"),
}


def _adjustments_in_ledger(sandbox: Any) -> list[tuple[str, str, str, str]]:
    return sorted(
        (tx["transaction_eid"], tx["transaction_type"], tx["amount"], tx["created_at"])
        for tx in sandbox.transactions(program_id=1, points_currency_eid="stars")
        if str(tx["transaction_eid"] or "").startswith("adj-")
    )


def test_three_days_then_a_rerun_send_each_adjustment_once(
    airflow_db: Path, sandbox: Any, demo_warehouse: Path
) -> None:
    dag = example_dag("altcraft_backfill_adjustments")
    # A manual test run's data interval is the day that ends at its logical date (a backfill
    # run's starts there); run_covering gives the logical date that covers each day.
    for day in ("2024-09-01", "2024-09-02", "2024-09-03"):
        result = run_dag(dag, logical_date=run_covering(day))
        assert result.state == "success"
        summary = result.xcom("send_adjustments")
        assert (summary["rows"], summary["sent"], summary["already_present"]) == (2, 2, 0)

    rerun = run_dag(dag, logical_date=run_covering("2024-09-02"))

    assert rerun.state == "success"
    summary = rerun.xcom("send_adjustments")
    assert (summary["rows"], summary["sent"], summary["already_present"]) == (2, 0, 2)
    assert _adjustments_in_ledger(sandbox) == sorted(
        (eid, *fields) for eid, fields in DEMO_ADJUSTMENTS.items()
    )
    # Opening 500.00 + 25.00 - 40.00 + 100.00 for p-1; 120.50 - 10.50 + 5.25 - 20.00 for p-2.
    assert sandbox.balance(1, "p-1", "stars")["total_balance"] == Decimal("585.00")
    assert sandbox.balance(1, "p-2", "stars")["total_balance"] == Decimal("95.25")


def test_reconcile_example_finds_the_backfilled_day_clean_then_a_gap(
    airflow_db: Path, sandbox: Any, demo_warehouse: Path, tmp_path: Path
) -> None:
    backfill = example_dag("altcraft_backfill_adjustments")
    assert run_dag(backfill, logical_date=run_covering("2024-09-02")).state == "success"
    reconcile = example_dag("altcraft_reconcile_daily")
    conf = {"output_dir": str(tmp_path)}

    clean = run_dag(reconcile, logical_date=run_covering("2024-09-02"), conf=conf)
    gap = run_dag(reconcile, logical_date=run_covering("2024-09-03"), conf=conf)

    assert clean.state == "success"
    counts = clean.xcom("reconcile")
    assert (counts["matched"], counts["differences"]) == (2, 0)
    # 2024-09-03 was not backfilled: both of its adjustments are missing in Altcraft.
    assert gap.state_of("reconcile") == "failed"
    assert gap.xcom("reconcile", key="counts")["missing_in_altcraft"] == 2
    with sqlite3.connect(demo_warehouse) as db:
        stored = db.execute(
            "SELECT period_from, difference, transaction_eid FROM altcraft_reconcile_report"
        ).fetchall()
    db.close()
    assert sorted(stored) == [
        ("2024-09-03T00:00:00Z", "missing_in_altcraft", "adj-5"),
        ("2024-09-03T00:00:00Z", "missing_in_altcraft", "adj-6"),
    ]
