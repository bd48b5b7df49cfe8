"""The single operators' metrics (tests/metrics/test_statsd.py runs it with StatsD on): a
hold and its commit, an accrual, a refused redemption and a commit of a committed
transaction."""

from __future__ import annotations

import pendulum
from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import (
    AltcraftAccruePointsOperator,
    AltcraftCommitTransactionOperator,
    AltcraftRedeemPointsOperator,
)

with DAG(
    "metrics_operators",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    default_args={"retries": 0},
) as dag:
    hold = AltcraftRedeemPointsOperator(
        task_id="hold",
        loyalty_program_id=1,
        profile_id="p-1",
        amount="10.00",
        is_temp=True,
        points_currency_eid="stars",
    )
    commit = AltcraftCommitTransactionOperator(task_id="commit", transaction_id=hold.output)  # type: ignore[arg-type]
    commit_again = AltcraftCommitTransactionOperator(
        task_id="commit_again",
        transaction_id=hold.output,  # type: ignore[arg-type]
    )
    commit >> commit_again

    AltcraftAccruePointsOperator(
        task_id="accrue",
        loyalty_program_id=1,
        profile_email="ann@example.com",
        amount="5.25",
        points_currency_eid="stars",
    )
    AltcraftRedeemPointsOperator(
        task_id="too_much",
        loyalty_program_id=1,
        profile_id="p-2",
        amount="1000.00",
        points_currency_eid="stars",
    )
