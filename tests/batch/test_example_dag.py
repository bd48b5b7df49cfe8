"""The batch example DAG (mapped chunks over a file) against the sandbox's example seed."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import REPO
from tests.dagrun import example_dag, run_dag

DATA = REPO / "dags_examples" / "data" / "batch_redemptions.csv"


def test_example_redeems_each_order_once_across_chunks(
    sandbox: SandboxHandle, airflow_db: Path
) -> None:
    with open(DATA, newline="") as data:
        rows = list(csv.DictReader(data))
    owed = {"p-1": Decimal(0), "p-2": Decimal(0)}
    for row in rows:
        owed["p-1" if row["customer_email"].startswith("ann") else "p-2"] += Decimal(row["points"])
    dag = example_dag("altcraft_batch_redemption")

    first = run_dag(dag, logical_date=datetime(2024, 9, 1, tzinfo=timezone.utc))
    second = run_dag(dag, logical_date=datetime(2024, 9, 2, tzinfo=timezone.utc))

    assert first.state == second.state == "success"
    assert [first.state_of("redeem_chunk", i) for i in range(3)] == ["success"] * 3
    total = str(sum(owed.values()))
    assert first.xcom("report") == {
        "chunks": 3,
        "sent": len(rows),
        "already_present": 0,
        "total_amount": total,
    }
    assert second.xcom("report") == {
        "chunks": 3,
        "sent": 0,
        "already_present": len(rows),
        "total_amount": total,
    }
    redeemed = sandbox.transactions(transaction_type="redeem")
    assert len(redeemed) == len({t["transaction_eid"] for t in redeemed}) == len(rows)
    assert sandbox.balance(1, "p-1", "stars")["total_balance"] == Decimal("500.00") - owed["p-1"]
    assert sandbox.balance(1, "p-2", "stars")["total_balance"] == Decimal("120.50") - owed["p-2"]
