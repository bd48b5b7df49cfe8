"""A batch never misreports an outcome: rows applied by this try count as sent, rows whose
outcome is unknown are neither "failed" nor tolerated."""

from __future__ import annotations

from decimal import Decimal

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.batch.conftest import assert_each_once, make_rows
from tests.batch.test_batch_runs import DAY_1, DAY_2, batch_dag, results
from tests.dagrun import run_dag

REDEEM = "loyalty/redeeme_points"
ACCOUNT_TRANSACTIONS = "loyalty/account/transactions"


def test_rows_applied_by_this_try_whose_answer_was_lost_count_as_sent(
    batch_sandbox: SandboxHandle,
) -> None:
    batch_sandbox.set_faults([{"kind": "drop_after", "methods": [REDEEM], "max_count": 3}])
    dag = batch_dag("batch_lost_answers", f"rows={make_rows(50)!r}, row_key_column='order_id',")

    result = run_dag(dag, logical_date=DAY_1)

    assert result.state == "success"
    summary = result.xcom("batch")
    assert (summary["sent"], summary["redeemed"], summary["already_present"]) == (50, 50, 0)
    assert summary["unknown"] == 0
    assert_each_once(batch_sandbox, 50)


def test_unknown_rows_fail_the_task_whatever_the_policy_and_the_retry_settles_them(
    batch_sandbox: SandboxHandle,
) -> None:
    rows = make_rows(20)
    # Two answers lost, and every lookup after them refused: those two rows are unknown.
    batch_sandbox.set_faults(
        [
            {"kind": "drop_after", "methods": [REDEEM], "max_count": 2},
            {"kind": "http_500", "methods": [ACCOUNT_TRANSACTIONS], "max_count": 8},
        ]
    )
    # Rows without a key: try 1 sends without looking up first, so the refused lookups are
    # exactly the ones that follow the two lost answers (4 attempts each).
    dag = batch_dag("batch_unknown", f"rows={rows!r}, failed_rows='ignore',", retries=1)

    result = run_dag(dag, logical_date=DAY_2)

    # Try 1 failed on the unknown rows although failed_rows='ignore' (had it succeeded, its
    # summary would say sent 18); try 2 looked every row up and found all 20.
    assert result.state == "success"
    assert sum(1 for e in batch_sandbox.requests() if e["method"] == REDEEM) == 20  # no resend
    summary = result.xcom("batch")
    assert (summary["unknown"], summary["already_present"], summary["sent"]) == (0, 20, 0)
    ledger_total = sum(Decimal(t["amount"]) for t in assert_each_once(batch_sandbox, 20))
    assert Decimal(summary["total_amount"]) == ledger_total
    assert [r["status"] for r in results(summary["results_path"])] == ["already_present"] * 20
