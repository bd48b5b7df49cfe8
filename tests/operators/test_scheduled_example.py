"""The scheduled example DAG: one mapped redeem per CSV row, each exactly once, also when the
same DagRun runs again."""

from __future__ import annotations

import csv
from decimal import Decimal

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import REPO
from tests.dagrun import DagRunResult, example_dag
from tests.operators.conftest import (
    ANN_STARS,
    BOB_STARS,
    api_methods,
    api_transactions,
    data_interval_start,
    rerun,
    run,
    stars,
)

DAG_ID = "altcraft_scheduled_redemption"
#: The profile each row of dags_examples/data/redemptions.csv names, in row order.
ROW_PROFILES = ["p-1", "p-2", "p-1", "p-2", "p-2"]


def csv_amounts() -> list[Decimal]:
    with (REPO / "dags_examples" / "data" / "redemptions.csv").open(newline="") as rows:
        return [Decimal(row["amount"]) for row in csv.DictReader(rows)]


def assert_each_row_redeemed_once(sandbox: SandboxHandle, result: DagRunResult) -> None:
    amounts = csv_amounts()
    assert len(amounts) == len(ROW_PROFILES) == 5
    transactions = {t["transaction_id"]: t for t in api_transactions(sandbox)}
    assert len(transactions) == len(amounts)
    for map_index, (profile_id, amount) in enumerate(zip(ROW_PROFILES, amounts, strict=True)):
        assert result.state_of("redeem", map_index) == "success"
        transaction = transactions[result.xcom("redeem", map_index=map_index)]
        assert transaction["profile_id"] == profile_id
        assert Decimal(transaction["amount"]) == amount
        assert transaction["status"] == "active"
        assert transaction["transaction_eid"] == result.xcom(
            "redeem", "transaction_eid", map_index=map_index
        )
    spent = {"p-1": Decimal(0), "p-2": Decimal(0)}
    for profile_id, amount in zip(ROW_PROFILES, amounts, strict=True):
        spent[profile_id] += amount
    assert stars(sandbox, "p-1")["total_balance"] == ANN_STARS - spent["p-1"]
    assert stars(sandbox, "p-2")["total_balance"] == BOB_STARS - spent["p-2"]


def test_every_row_is_redeemed_once(altcraft: SandboxHandle) -> None:
    result = run(example_dag(DAG_ID))

    assert result.state == "success"
    assert_each_row_redeemed_once(altcraft, result)
    eids = [result.xcom("redeem", "transaction_eid", map_index=i) for i in range(5)]
    assert len(set(eids)) == 5
    # created_at="{{ data_interval_start }}" dates every transaction at the run's interval.
    assert {t["created_at"] for t in api_transactions(altcraft)} == {
        data_interval_start(DAG_ID, result.run_id)
    }


def test_running_the_same_dag_run_again_adds_nothing(altcraft: SandboxHandle) -> None:
    dag = example_dag(DAG_ID)
    first = run(dag)
    altcraft.clear_requests()

    again = rerun(dag)

    assert again.run_id == first.run_id
    assert again.state == "success"
    for i in range(5):
        assert again.try_numbers[("redeem", i)] == 2
        assert again.xcom("redeem", map_index=i) == first.xcom("redeem", map_index=i)
        assert again.xcom("redeem", "already_existed", map_index=i) is True
    assert "loyalty/redeeme_points" not in api_methods(altcraft)
    assert_each_row_redeemed_once(altcraft, again)
