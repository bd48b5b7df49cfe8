"""Templated arguments: Jinja strings, native rendering, nested dicts, XComArgs between
operators and from a TaskFlow task. Each test asserts what reached the ledger."""

from __future__ import annotations

from decimal import Decimal

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.dagrun import write_dag
from tests.operators.conftest import (
    ANN_STARS,
    BOB_STARS,
    api_transactions,
    data_interval_start,
    run,
    stars,
)
from tests.operators.dag_support import read_argument_types

JINJA_DAG = """
    # An Airflow DAG rendering its templates as strings (the default).
    import pendulum
    from airflow import DAG

    from airflow_provider_altcraft.operators.loyalty import (
        AltcraftCommitTransactionOperator,
        AltcraftRedeemPointsOperator,
    )
    from tests.operators.dag_support import record_argument_types

    try:
        from airflow.sdk import task
    except ImportError:  # Airflow 2
        from airflow.decorators import task

    with DAG(
        "templating_jinja",
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        params={"program": 1, "amount": "12.34", "order_id": "A-1", "currency": "stars"},
        default_args={"on_execute_callback": record_argument_types},
    ) as dag:
        AltcraftRedeemPointsOperator(
            task_id="jinja",
            loyalty_program_id="{{ params.program }}",
            profile_id="p-1",
            amount="{{ params.amount }}",
            points_currency_eid="{{ params.currency }}",
            created_at="{{ data_interval_start }}",
            transaction_eid="order-{{ params.order_id }}",
            external_data={"order_id": "{{ params.order_id }}", "run": "{{ run_id }}"},
        )

        @task
        def amount_to_hold() -> str:
            return "3.21"

        hold = AltcraftRedeemPointsOperator(
            task_id="hold",
            loyalty_program_id=1,
            phone="+15550000002",
            amount=amount_to_hold(),
            points_currency_iid=1,  # stars, by its internal id
            is_temp=True,
        )
        AltcraftCommitTransactionOperator(task_id="commit", transaction_id=hold.output)
"""


def test_jinja_templates_reach_the_ledger(altcraft: SandboxHandle) -> None:
    result = run(write_dag("templating_jinja", JINJA_DAG))

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


NATIVE_DAG = """
    # An Airflow DAG rendering its templates as native objects.
    from decimal import Decimal

    import pendulum
    from airflow import DAG

    from airflow_provider_altcraft.operators.loyalty import (
        AltcraftRedeemPointsOperator,
        AltcraftRollbackTransactionOperator,
    )
    from tests.operators.dag_support import record_argument_types

    with DAG(
        "templating_native",
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        render_template_as_native_obj=True,
        user_defined_macros={"Decimal": Decimal},
        params={
            "program": 1,
            "user_id": 1001,
            "timeout": 600,
            "extra": {"order_id": "B-2", "lines": [1, 2]},
        },
        default_args={"on_execute_callback": record_argument_types},
    ) as dag:
        native = AltcraftRedeemPointsOperator(
            task_id="native",
            loyalty_program_id="{{ params.program }}",
            field_name="user_id",
            field_value="{{ params.user_id }}",
            amount="{{ Decimal('7.25') }}",
            points_currency_eid="stars",
            is_temp="{{ params.timeout > 0 }}",
            temp_timeout_sec="{{ params.timeout }}",
            created_at="{{ data_interval_start }}",
            external_data="{{ params.extra }}",
        )
        AltcraftRollbackTransactionOperator(task_id="rollback", transaction_id=native.output)
        # Plain strings stay strings under native rendering (not 25.0 and 15550000002).
        AltcraftRedeemPointsOperator(
            task_id="literal", loyalty_program_id=1, phone="+15550000002", amount="25.00",
            points_currency_eid="stars",
        )
"""


def test_native_rendering_passes_objects_through(altcraft: SandboxHandle) -> None:
    result = run(write_dag("templating_native", NATIVE_DAG))

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
