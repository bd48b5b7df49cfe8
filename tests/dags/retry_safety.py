"""One money-moving task that Airflow retries at once, redeem or accrue
(tests/operators/test_retry_safety.py)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import (
    AltcraftAccruePointsOperator,
    AltcraftRedeemPointsOperator,
)


def points_dag(
    dag_id: str, operator: type[AltcraftRedeemPointsOperator | AltcraftAccruePointsOperator]
) -> DAG:
    with DAG(
        dag_id,
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        default_args={"retries": 1, "retry_delay": timedelta(0)},
    ) as dag:
        operator(
            task_id="points",
            loyalty_program_id=1,
            profile_email="ann@example.com",
            amount="40.00",
            points_currency_eid="stars",
        )
    return dag


redeem = points_dag("retry_safety_redeem", AltcraftRedeemPointsOperator)
accrue = points_dag("retry_safety_accrue", AltcraftAccruePointsOperator)
