"""A DAG whose default_args carry Airflow's own alert address; members by phone, by e-mail,
and mapped rows, one of them bad (tests/operators/test_bad_inputs.py)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import AltcraftRedeemPointsOperator
from tests.operators.dag_support import record_failure

with DAG(
    "operator_arguments",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    default_args={
        "email": ["oncall@example.org"],
        "email_on_failure": False,
        "email_on_retry": False,
        "retries": 2,
        "retry_delay": timedelta(0),
        "on_failure_callback": record_failure,
    },
) as dag:
    AltcraftRedeemPointsOperator(
        task_id="by_phone",
        loyalty_program_id=1,
        phone="+15550000002",
        amount="2.00",
        points_currency_eid="stars",
    )
    AltcraftRedeemPointsOperator(
        task_id="by_email",
        loyalty_program_id=1,
        profile_email="ann@example.com",
        amount="3.00",
        points_currency_eid="stars",
    )
    AltcraftRedeemPointsOperator.partial(
        task_id="mapped", loyalty_program_id=1, points_currency_eid="stars"
    ).expand_kwargs(
        [
            {"profile_email": "ann@example.com", "amount": "abc"},
            {"profile_email": "bob@example.com", "amount": "4.00"},
        ]
    )
