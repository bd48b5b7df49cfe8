"""Accrue (with activation and expiration), balance, register and remove, in a DAG run."""

from __future__ import annotations

from decimal import Decimal

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.dagrun import load_test_dag
from tests.operators.conftest import BOB_STARS, api_transactions, run, stars


def test_accrual_balance_and_membership(altcraft: SandboxHandle) -> None:
    result = run(load_test_dag("member_and_accrual", "member_and_accrual"))

    assert result.state == "success"
    accruals = {t["amount"]: t for t in api_transactions(altcraft, profile_id="p-2")}
    future, now = accruals.pop("30.00"), accruals.pop("4.50")
    assert accruals == {}
    assert future["transaction_id"] == result.xcom("future")
    assert future["transaction_type"] == now["transaction_type"] == "accrual"
    assert future["activation_date"] == "2030-01-01T00:00:00Z"
    assert future["expiration_date"] == "2030-12-31T21:00:00Z"  # sent as UTC
    assert now["transaction_id"] == result.xcom("now")
    assert now["activation_date"] is None
    assert now["expiration_date"] == "2030-06-30T00:00:00Z"
    # Points not active yet count in the total only.
    account = stars(altcraft, "p-2")
    assert account["total_balance"] == BOB_STARS + Decimal("34.50")
    assert account["active_balance"] == BOB_STARS + Decimal("4.50")
    # Amounts as Altcraft renders them: no padding ("155", not "155.00").
    assert result.xcom("balance") == {"total_balance": "155", "active_balance": "125"}

    members = {m["profile_id"]: m for m in altcraft.ledger()["members"] if m["program_id"] == 1}
    assert result.xcom("register") == "p-4"
    assert members["p-4"]["registration_date"] == "2024-09-01T06:30:15Z"
    assert result.xcom("remove") == "p-3"
    assert "p-3" not in members
