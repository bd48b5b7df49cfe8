"""Templated arguments: Jinja strings, native rendering, nested dicts, XComArgs between
operators and from a TaskFlow task. Each test asserts what reached the ledger."""

from __future__ import annotations

from decimal import Decimal

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.dagrun import load_test_dag
from tests.operators.conftest import (
    ANN_STARS,
    BOB_STARS,
    api_transactions,
    data_interval_start,
    run,
    stars,
)
from tests.operators.dag_support import read_argument_types


def test_jinja_templates_reach_the_ledger(altcraft: SandboxHandle) -> None:
    result = run(load_test_dag("templating", "templating_jinja"))

    assert result.state == "success"
    (jinja,) = api_transactions(altcraft, profile_id="p-1")
    assert jinja["transaction_id"] == result.xcom("jinja")
    assert jinja["amount"] == "12.34"
    assert jinja["transaction_eid"] == "order-A-1"
    assert jinja["external_data"] == {"order_id": "A-1", "run": result.run_id}
    assert jinja["created_at"] == data_interval_start("templating_jinja", result.run_id)
    assert jinja["created_at"] == "2024-09-01T06:30:15Z"  # LOGICAL_DATE; no schedule
    assert read_argument_types()["jinja"]["loyalty_program_id"] == "str"
    # An upstream task's XCom as the amount; the redeem's XCom as the transaction to commit.
    (hold,) = api_transactions(altcraft, profile_id="p-2")
    assert (hold["amount"], hold["status"]) == ("3.21", "committed")
    assert result.xcom("commit") == hold["transaction_id"] == result.xcom("hold")
    assert stars(altcraft, "p-2")["total_balance"] == BOB_STARS - Decimal("3.21")


def test_native_rendering_passes_objects_through(altcraft: SandboxHandle) -> None:
    result = run(load_test_dag("templating", "templating_native"))

    assert result.state == "success"
    types = read_argument_types()["native"]
    assert types["loyalty_program_id"] == "int"
    assert types["field_value"] == "int"
    assert types["amount"] == "Decimal"
    assert types["is_temp"] == "bool"
    assert types["temp_timeout_sec"] == "int"
    assert types["external_data"] == "dict"
    assert types["created_at"] == "DateTime"  # pendulum
    (native,) = api_transactions(altcraft, profile_id="p-1")
    assert native["transaction_id"] == result.xcom("native") == result.xcom("rollback")
    assert (native["amount"], native["is_temp"], native["status"]) == ("7.25", True, "rolled_back")
    assert native["external_data"] == {"order_id": "B-2", "lines": [1, 2]}
    assert native["created_at"] == "2024-09-01T06:30:15Z"
    assert stars(altcraft, "p-1")["active_balance"] == ANN_STARS
    assert read_argument_types()["literal"]["amount"] == "str"
    (literal,) = api_transactions(altcraft, profile_id="p-2")
    assert literal["amount"] == "25.00"
