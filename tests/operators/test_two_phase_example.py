"""The two-phase example DAG end to end: hold, business step, then commit, roll back, or let
the hold expire. Assertions are on the sandbox ledger, not only on task states."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.dagrun import example_dag
from tests.operators.conftest import (
    ANN_STARS,
    api_methods,
    api_transactions,
    run,
    stars,
)

DAG_ID = "altcraft_two_phase_redemption"
AMOUNT = Decimal("25.00")
TEMP_TIMEOUT_SEC = 1


def the_redemption(sandbox: SandboxHandle) -> dict[str, Any]:
    (transaction,) = api_transactions(sandbox)
    assert transaction["profile_id"] == "p-1"
    assert transaction["transaction_type"] == "redeem"
    assert Decimal(transaction["amount"]) == AMOUNT
    assert transaction["is_temp"] is True
    return transaction


def test_commit_path_spends_exactly_the_amount(altcraft: SandboxHandle, capsys: Any) -> None:
    result = run(example_dag(DAG_ID))

    assert result.state == "success"
    assert result.state_of("rollback") == "skipped"
    transaction = the_redemption(altcraft)
    assert transaction["status"] == "committed"
    assert stars(altcraft, "p-1")["total_balance"] == ANN_STARS - AMOUNT
    assert stars(altcraft, "p-1")["held_balance"] == 0
    transaction_id = transaction["transaction_id"]
    assert result.xcom("redeem") == transaction_id
    assert result.xcom("commit") == transaction_id
    # Amounts as Altcraft renders them (the guide's example: "100.1", no padding).
    assert result.xcom("redeem", "balance_before") == "500"
    assert result.xcom("redeem", "balance_after") == "475"
    assert result.xcom("commit", "balance") == "475"
    # What `airflow dags test` shows the user.
    printed = capsys.readouterr().out
    assert f"transaction_id={transaction_id}" in printed
    assert "Active balance before=500 after=475" in printed


def test_failed_business_step_rolls_the_hold_back(altcraft: SandboxHandle) -> None:
    result = run(example_dag(DAG_ID), conf={"fail_business_step": True})

    assert result.state == "failed"
    assert result.state_of("business_step") == "failed"
    assert result.state_of("commit") == "upstream_failed"
    assert result.state_of("rollback") == "success"
    transaction = the_redemption(altcraft)
    assert transaction["status"] == "rolled_back"
    assert result.xcom("rollback") == transaction["transaction_id"]
    assert result.xcom("rollback", "balance") == "500"  # unpadded, as the sandbox answers
    assert_balance_restored(altcraft)


def test_params_are_overridable_and_a_failed_redeem_skips_the_rollback(
    altcraft: SandboxHandle,
) -> None:
    # bob (p-2) has 120.50 stars: the redeem is refused, so there is nothing to roll back.
    conf = {"profile_id": "p-2", "amount": "500.00"}
    result = run(example_dag(DAG_ID), conf=conf)

    assert result.state == "failed"
    assert result.state_of("redeem") == "failed"
    assert result.state_of("business_step") == "upstream_failed"
    assert result.state_of("rollback") == "skipped"
    assert api_transactions(altcraft) == []
    assert "loyalty/rollback_transaction" not in api_methods(altcraft)


def test_overridden_amount_and_currency(altcraft: SandboxHandle) -> None:
    conf = {"amount": "7.50", "points_currency_eid": "miles"}
    result = run(example_dag(DAG_ID), conf=conf)

    assert result.state == "success"
    (transaction,) = api_transactions(altcraft)
    assert (transaction["points_currency_eid"], transaction["amount"]) == ("miles", "7.50")
    assert transaction["status"] == "committed"
    assert altcraft.balance(1, "p-1", "miles")["total_balance"] == Decimal("12.50")
    assert stars(altcraft, "p-1")["total_balance"] == ANN_STARS


def test_temp_timeout_releases_the_hold_when_nothing_else_runs(altcraft: SandboxHandle) -> None:
    # The business step fails and the rollback is marked successful without running (as if
    # its worker had died): neither commit nor rollback reaches Altcraft.
    conf = {"fail_business_step": True, "temp_timeout_sec": TEMP_TIMEOUT_SEC}
    result = run(example_dag(DAG_ID), conf=conf, mark_success_pattern="rollback")

    assert result.state == "failed"
    assert result.state_of("commit") == "upstream_failed"
    methods = api_methods(altcraft)
    assert "loyalty/commit_transaction" not in methods
    assert "loyalty/rollback_transaction" not in methods
    transaction = wait_for_status(altcraft, "expired", within_sec=TEMP_TIMEOUT_SEC + 3)
    assert transaction["transaction_id"] == result.xcom("redeem")
    assert Decimal(transaction["amount"]) == AMOUNT
    assert_balance_restored(altcraft)


def assert_balance_restored(sandbox: SandboxHandle) -> None:
    balance = stars(sandbox, "p-1")
    assert (balance["total_balance"], balance["active_balance"]) == (ANN_STARS, ANN_STARS)
    assert balance["held_balance"] == 0


def wait_for_status(sandbox: SandboxHandle, status: str, *, within_sec: float) -> dict[str, Any]:
    """The single API transaction once it reaches ``status`` (the sandbox expires holds on a
    0.2 s timer)."""
    deadline = time.monotonic() + within_sec
    while True:
        (transaction,) = api_transactions(sandbox)
        if transaction["status"] == status or time.monotonic() > deadline:
            assert transaction["status"] == status
            return transaction
        time.sleep(0.2)
