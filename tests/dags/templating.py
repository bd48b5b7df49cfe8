"""Templated arguments (tests/operators/test_templating.py): ``templating_jinja`` renders its
templates as strings (the default), with XComArgs between operators and from a TaskFlow task;
``templating_native`` renders them as native objects."""

from __future__ import annotations

from decimal import Decimal

import pendulum
from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import (
    AltcraftCommitTransactionOperator,
    AltcraftRedeemPointsOperator,
    AltcraftRollbackTransactionOperator,
)
from tests.operators.dag_support import record_argument_types

# The operators' annotations name the rendered types, not XComArg, which Airflow resolves at
# run time: the arguments taking an upstream task's output carry a type: ignore[arg-type].

try:
    from airflow.sdk import task
except ImportError:  # Airflow 2
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined]

with DAG(
    "templating_jinja",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    params={"program": 1, "amount": "12.34", "order_id": "A-1", "currency": "stars"},
    default_args={"on_execute_callback": record_argument_types},
) as jinja_dag:
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
        amount=amount_to_hold(),  # type: ignore[arg-type]
        points_currency_iid=1,  # stars, by its internal id
        is_temp=True,
    )
    AltcraftCommitTransactionOperator(task_id="commit", transaction_id=hold.output)  # type: ignore[arg-type]


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
) as native_dag:
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
    AltcraftRollbackTransactionOperator(task_id="rollback", transaction_id=native.output)  # type: ignore[arg-type]
    # Plain strings stay strings under native rendering (not 25.0 and 15550000002).
    AltcraftRedeemPointsOperator(
        task_id="literal",
        loyalty_program_id=1,
        phone="+15550000002",
        amount="25.00",
        points_currency_eid="stars",
    )
