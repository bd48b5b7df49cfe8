"""Commit, rollback and cancel: what happens on a transaction in the wrong state, and with an
empty reference; cancel reverses a permanent transaction."""

from __future__ import annotations

from decimal import Decimal

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.dagrun import load_test_dag
from tests.operators.conftest import ANN_STARS, BOB_STARS, api_methods, api_transactions, run, stars
from tests.operators.dag_support import read_failures


def test_transaction_actions(altcraft: SandboxHandle) -> None:
    result = run(load_test_dag("transaction_actions", "transaction_actions"))
    failures = read_failures("transaction_actions")

    # Committing twice: the first commit holds, the second fails clearly and is not retried.
    (hold,) = api_transactions(altcraft, amount="10.00")
    assert hold["status"] == "committed"
    assert result.state_of("commit") == "success"
    assert result.state_of("commit_again") == "failed"
    assert result.try_numbers[("commit_again", -1)] == 1
    assert failures[("commit_again", -1)]["type"] == "AirflowFailException"
    assert "Transaction is already committed" in failures[("commit_again", -1)]["message"]
    # Rolling back by eid, then again by id: the same, with "already rolled back".
    (released,) = api_transactions(altcraft, transaction_eid="released-1")
    assert released["status"] == "rolled_back"
    assert result.xcom("rollback") == released["transaction_id"]
    assert result.state_of("rollback_again") == "failed"
    assert result.try_numbers[("rollback_again", -1)] == 1
    assert "Transaction is already rolled back" in failures[("rollback_again", -1)]["message"]
    assert stars(altcraft, "p-1")["total_balance"] == ANN_STARS - Decimal("10.00")
    assert stars(altcraft, "p-1")["held_balance"] == 0
    # The redeem failed, so the rollback has an empty reference: skipped, nothing sent.
    assert result.state_of("too_much") == "failed"
    assert "Insufficient points" in failures[("too_much", -1)]["message"]
    assert result.state_of("nothing_to_roll_back") == "skipped"
    assert api_methods(altcraft).count("loyalty/rollback_transaction") == 2
    # Cancel reverses a permanent redemption.
    (spent,) = api_transactions(altcraft, profile_id="p-2")
    assert spent["status"] == "cancelled"
    assert result.xcom("cancel") == spent["transaction_id"]
    assert result.xcom("cancel", "balance") == "120.5"  # BOB_STARS as Altcraft renders it
    assert stars(altcraft, "p-2")["total_balance"] == BOB_STARS
