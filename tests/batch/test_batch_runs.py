"""Batch operators in real DAG runs against the sandbox: the ledger must hold every row once."""

from __future__ import annotations

import ast
import csv
import json
import os
import sqlite3
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.batch.conftest import (
    assert_each_once,
    batch_transactions,
    expected_balances,
    ledger_balances,
    make_rows,
    write_csv,
    write_jsonl,
)
from tests.dagrun import load_test_dag, run_dag

DAY_1 = datetime(2024, 9, 1, tzinfo=timezone.utc)
DAY_2 = datetime(2024, 9, 2, tzinfo=timezone.utc)


def batch_dag(
    dag_id: str, operator_args: str, *, retries: int = 0, operator: str = "Redeem"
) -> Any:
    """A one-task DAG (tests/dags/batch_operator.py) running the batch operator with
    ``operator_args``, keyword arguments written as Python literals (``"rows=[...], x=1,"``)."""
    call = ast.parse(f"f({operator_args})", mode="eval").body
    assert isinstance(call, ast.Call)
    arguments = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
    spec = {"dag_id": dag_id, "operator": operator, "retries": retries, "arguments": arguments}
    return load_test_dag("batch_operator", dag_id, data=spec)


def results(path: str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as data:
        return list(csv.DictReader(data))


def test_csv_rows_redeemed_once_each(batch_sandbox: SandboxHandle, tmp_path: Path) -> None:
    rows = make_rows(300)
    path = write_csv(tmp_path / "rows.csv", rows)
    dag = batch_dag(
        "batch_csv", f"rows_file={str(path)!r}, results_path={str(tmp_path / 'out.csv')!r},"
    )

    run = run_dag(dag)

    assert run.state == "success"
    assert_each_once(batch_sandbox, 300)
    assert ledger_balances(batch_sandbox) == expected_balances(rows)
    summary = run.xcom("batch")
    total = sum(Decimal(row["amount"]) for row in rows)
    assert summary["rows"] == 300 and summary["sent"] == 300 and summary["redeemed"] == 300
    assert summary["failed"] == summary["already_present"] == summary["skipped_invalid"] == 0
    assert summary["total_amount"] == str(total)
    per_row = results(summary["results_path"])
    assert sorted(int(r["row"]) for r in per_row) == list(range(1, 301))
    assert {r["status"] for r in per_row} == {"sent"}
    assert all(r["transaction_id"] and r["transaction_eid"] for r in per_row)


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param([{"kind": "http_500", "rate": 0.2}], id="http_500"),
        pytest.param([{"kind": "http_503", "rate": 0.2}], id="http_503"),
        pytest.param(
            [
                {"kind": "http_429", "rate": 0.2, "retry_after": 0},
                {"kind": "http_429", "rate": 0.5, "retry_after": 1, "max_count": 1},
            ],
            id="http_429",
        ),
        pytest.param([{"kind": "drop_after", "rate": 0.2}], id="drop_after"),
    ],
)
def test_faults_still_exactly_once(
    batch_sandbox: SandboxHandle, faults: list[dict[str, Any]], request: pytest.FixtureRequest
) -> None:
    rows = make_rows(200)
    batch_sandbox.set_faults(faults, seed=11)
    # A row whose outcome is unknown (HTTP 500, a dropped answer) and not found by the lookup
    # fails its try, never sent twice in one; the next try sends it. At 20% a fault per
    # request, retries=6 leaves ~200 * 0.2**7 rows unsent: the run succeeds.
    # One DAG per case: re-running a logical date deletes the old run, which Airflow 2.11
    # cannot do without the FAB tables (dag_run_note -> ab_user).
    dag_id = "batch_faults_" + request.node.callspec.id
    dag = batch_dag(dag_id, f"rows={rows!r},", retries=6)

    run = run_dag(dag)

    assert run.state == "success"
    assert batch_sandbox.faults()["total_hits"] > 0
    assert_each_once(batch_sandbox, 200)
    assert ledger_balances(batch_sandbox) == expected_balances(rows)
    summary = run.xcom("batch")
    assert summary["sent"] + summary["already_present"] == 200
    assert summary["failed"] == 0


def test_retry_after_a_failed_try_sends_only_the_rest(
    batch_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Try 1 fails: some answers are lost and the lookups that follow fail too (every attempt
    of the first ten), so those rows end "unknown" although Altcraft applied them. Try 2 (same
    task instance, so the same position-derived eids) must find every row and send nothing."""
    rows = make_rows(120)
    batch_sandbox.set_faults(
        [
            {"kind": "drop_after", "rate": 0.2, "methods": ["loyalty/redeeme_points"]},
            {"kind": "http_503", "rate": 1.0, "methods": ["loyalty/account/transactions"],
             "max_count": 40},
        ],
        seed=3,
    )  # fmt: skip
    dag = batch_dag("batch_retry", f"rows={rows!r},", retries=2)

    run = run_dag(dag)

    assert run.state == "success"
    assert run.try_numbers[("batch", -1)] == 2
    assert_each_once(batch_sandbox, 120)
    assert ledger_balances(batch_sandbox) == expected_balances(rows)
    summary = run.xcom("batch")
    assert (summary["already_present"], summary["sent"], summary["failed"]) == (120, 0, 0)


def test_second_run_with_row_keys_adds_nothing(batch_sandbox: SandboxHandle) -> None:
    rows = make_rows(100)
    dag = batch_dag("batch_rerun", f"rows={rows!r}, row_key_column='order_id',")

    first = run_dag(dag, logical_date=DAY_1)
    batch_sandbox.clear_requests()
    second = run_dag(dag, logical_date=DAY_2)

    assert first.state == second.state == "success"
    assert_each_once(batch_sandbox, 100)
    assert first.xcom("batch")["sent"] == 100
    assert second.xcom("batch")["sent"] == 0
    assert second.xcom("batch")["already_present"] == 100
    # One transactions listing per member (50), not one per row, and no money moved.
    methods = [entry["method"] for entry in batch_sandbox.requests()]
    assert set(methods) == {"loyalty/account/transactions"}
    assert len(methods) == 50


@pytest.mark.parametrize("state_reported", [True, False], ids=["state", "no_state"])
def test_a_row_whose_transaction_was_cancelled_is_reported_not_counted(
    batch_sandbox: SandboxHandle, state_reported: bool
) -> None:
    # Altcraft publishes no transaction state: with it (the sandbox's unpublished_fields) a
    # cancelled eid is a failed row; without it, the eid is found and never sent again
    # (sending could move the points twice), and the row says its state is unknown.
    batch_sandbox.configure(unpublished_fields=state_reported)
    rows = make_rows(10)
    dag = batch_dag(
        "batch_settled", f"rows={rows!r}, row_key_column='order_id', failed_rows='ignore',"
    )
    first = run_dag(dag, logical_date=DAY_1)
    cancelled = batch_transactions(batch_sandbox)[0]
    AltcraftHook().cancel_transaction(transaction_id=cancelled["transaction_id"])

    second = run_dag(dag, logical_date=DAY_2)

    assert first.state == second.state == "success"
    summary = second.xcom("batch")
    assert len(batch_transactions(batch_sandbox)) == 10  # nothing sent again
    if not state_reported:
        assert (summary["already_present"], summary["failed"], summary["sent"]) == (10, 0, 0)
        return
    assert (summary["already_present"], summary["failed"], summary["sent"]) == (9, 1, 0)
    (failed,) = [r for r in results(summary["results_path"]) if r["status"] == "failed"]
    assert failed["transaction_eid"] == cancelled["transaction_eid"]
    assert "which is cancelled; to apply it again, use a new transaction_eid" in failed["error"]


def test_invalid_rows_fail_before_any_request(batch_sandbox: SandboxHandle, tmp_path: Path) -> None:
    rows = make_rows(10)
    rows[2]["amount"] = "12.345"
    rows[5]["email"] = "not-an-email"
    rows[7]["amount"] = "-3"
    out = tmp_path / "out.csv"
    dag = batch_dag("batch_invalid", f"rows={rows!r}, results_path={str(out)!r},", retries=2)

    run = run_dag(dag)

    assert run.state == "failed"
    assert run.try_numbers[("batch", -1)] == 1  # a retry cannot fix the input
    assert batch_sandbox.requests() == []
    problems = {(int(r["row"]), r["error"].split(":")[0]) for r in results(str(out))}
    assert problems == {
        (3, "row 3, column amount"),
        (6, "row 6, column email"),
        (8, "row 8, column amount"),
    }


def test_invalid_rows_skipped_and_the_rest_sent(batch_sandbox: SandboxHandle) -> None:
    rows = make_rows(20)
    rows[0]["amount"] = 1.5  # a float: refused, money is exact
    rows[4].pop("email")
    dag = batch_dag("batch_skip", f"rows={rows!r}, invalid_rows='skip',")

    run = run_dag(dag)

    assert run.state == "success"
    good = [row for n, row in enumerate(rows) if n not in (0, 4)]
    assert_each_once(batch_sandbox, 18)
    assert ledger_balances(batch_sandbox) == expected_balances(good)
    summary = run.xcom("batch")
    assert (summary["rows"], summary["sent"], summary["skipped_invalid"]) == (20, 18, 2)


def test_sql_rows_from_sqlite_connection(
    batch_sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = make_rows(150)
    db = tmp_path / "orders.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE redemptions (order_id TEXT, customer TEXT, points TEXT)")
        conn.executemany(
            "INSERT INTO redemptions VALUES (?, ?, ?)",
            [(r["order_id"], r["email"], r["amount"]) for r in rows],
        )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ORDERS_DB", json.dumps({"conn_type": "sqlite", "host": str(db)})
    )
    dag = batch_dag(
        "batch_sql",
        "sql='SELECT order_id, customer, points FROM redemptions ORDER BY order_id', "
        "sql_conn_id='orders_db', column_mapping={'customer': 'email', 'points': 'amount'}, "
        "row_key_column='order_id',",
    )

    run = run_dag(dag)

    assert run.state == "success"
    assert_each_once(batch_sandbox, 150)
    assert ledger_balances(batch_sandbox) == expected_balances(rows)
    assert run.xcom("batch")["sent"] == 150


def test_jsonl_by_sign_accrues_and_redeems(batch_sandbox: SandboxHandle, tmp_path: Path) -> None:
    rows = make_rows(60)
    for n, row in enumerate(rows):
        if n % 3 == 0:
            row["amount"] = "-" + row["amount"]
    path = write_jsonl(tmp_path / "adjustments.jsonl", rows)
    out = tmp_path / "out.jsonl"
    dag = batch_dag(
        "batch_by_sign",
        f"operation='by_sign', rows_file={str(path)!r}, results_path={str(out)!r},",
        operator="",
    )

    run = run_dag(dag)

    assert run.state == "success"
    transactions = assert_each_once(batch_sandbox, 60)
    types = sorted(t["transaction_type"] for t in transactions)
    assert types == ["accrual"] * 40 + ["redeem"] * 20
    balances = {f"b-{i}": Decimal("10000.00") for i in range(50)}
    for row in rows:
        member = f"b-{int(row['email'][6:].split('@')[0])}"
        balances[member] += Decimal(row["amount"])
    assert ledger_balances(batch_sandbox) == balances
    summary = run.xcom("batch")
    assert (summary["redeemed"], summary["accrued"]) == (20, 40)
    assert os.path.getsize(out) > 0 and out.read_text().count("\n") == 60
