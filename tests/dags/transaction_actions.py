"""Transaction actions on the right and the wrong state
(tests/operators/test_transaction_actions.py)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import (
    AltcraftCancelTransactionOperator,
    AltcraftCommitTransactionOperator,
    AltcraftRedeemPointsOperator,
    AltcraftRollbackTransactionOperator,
)
from tests.operators.dag_support import record_failure

# The operators' annotations name the rendered types, not XComArg, which Airflow resolves at
# run time: the arguments taking an upstream task's output carry a type: ignore[arg-type].

with DAG(
    "transaction_actions",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    # Retries are allowed: a state conflict must fail without using them.
    default_args={
        "retries": 2,
        "retry_delay": timedelta(0),
        "on_failure_callback": record_failure,
    },
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

    released = AltcraftRedeemPointsOperator(
        task_id="released",
        loyalty_program_id=1,
        profile_id="p-1",
        amount="1.00",
        is_temp=True,
        transaction_eid="released-1",
        points_currency_eid="stars",
    )
    rollback = AltcraftRollbackTransactionOperator(task_id="rollback", transaction_eid="released-1")
    rollback_again = AltcraftRollbackTransactionOperator(
        task_id="rollback_again",
        transaction_id=released.output,  # type: ignore[arg-type]
    )
    released >> rollback >> rollback_again

    too_much = AltcraftRedeemPointsOperator(
        task_id="too_much",
        loyalty_program_id=1,
        profile_id="p-2",
        amount="1000.00",
        points_currency_eid="stars",
        retries=0,
    )
    AltcraftRollbackTransactionOperator(
        task_id="nothing_to_roll_back",
        transaction_id=too_much.output,  # type: ignore[arg-type]
        trigger_rule="one_failed",
    )

    spent = AltcraftRedeemPointsOperator(
        task_id="spent",
        loyalty_program_id=1,
        profile_id="p-2",
        amount="20.50",
        points_currency_eid="stars",
    )
    AltcraftCancelTransactionOperator(task_id="cancel", transaction_id=spent.output)  # type: ignore[arg-type]
