"""What following the public Altcraft guide means for redeem, accrue and commit, in DAG runs
(tests/operators/test_guide_facts.py): currencies rendering empty, the connection's default
currency, a two-phase accrual, and a retried redeem (then cancelled, or not)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import (
    AltcraftAccruePointsOperator,
    AltcraftCancelTransactionOperator,
    AltcraftCommitTransactionOperator,
    AltcraftRedeemPointsOperator,
)
from tests.operators.dag_support import record_failure

# The operators' annotations name the rendered types, not XComArg, which Airflow resolves at
# run time: the arguments taking an upstream task's output carry a type: ignore[arg-type].

START = pendulum.datetime(2024, 1, 1, tz="UTC")
DEFAULT_CURRENCY = "{{ conn.altcraft_default.extra_dejson.get('default_points_currency_eid', '') }}"

# Currencies are templates rendering empty; retries are allowed.
with DAG(
    "guide_empty_currency",
    schedule=None,
    start_date=START,
    params={"currency": ""},
    default_args={
        "retries": 2,
        "retry_delay": timedelta(0),
        "on_failure_callback": record_failure,
    },
) as empty_currency:
    AltcraftRedeemPointsOperator(
        task_id="redeem_eid_param",
        loyalty_program_id=1,
        profile_id="p-1",
        amount="5.00",
        points_currency_eid="{{ params.currency }}",
    )
    AltcraftAccruePointsOperator(
        task_id="accrue_iid_param",
        loyalty_program_id=1,
        profile_id="p-1",
        amount="5.00",
        points_currency_iid="{{ params.currency }}",
    )
    # The connection's default, blank on this run's connection.
    AltcraftRedeemPointsOperator(
        task_id="redeem_connection_default",
        loyalty_program_id=1,
        profile_id="p-2",
        amount="5.00",
        points_currency_eid=DEFAULT_CURRENCY,
    )
    # Mapped, with no currency at all: Airflow builds the operator only at run time, so parse
    # time cannot see it; each mapped instance fails as a templated one does.
    AltcraftRedeemPointsOperator.partial(
        task_id="mapped_no_currency", loyalty_program_id=1, amount="5.00"
    ).expand(profile_id=["p-1", "p-2"])


# The currency from the connection's default_points_currency_eid.
with DAG(
    "guide_connection_currency",
    schedule=None,
    start_date=START,
    default_args={"retries": 1, "retry_delay": timedelta(0)},
) as connection_currency:
    AltcraftAccruePointsOperator(
        task_id="accrue",
        loyalty_program_id=1,
        profile_email="ann@example.com",
        amount="2.50",
        points_currency_eid=DEFAULT_CURRENCY,
    )


# A temporary accrual, then its commit.
with DAG("guide_two_phase_accrual", schedule=None, start_date=START) as two_phase_accrual:
    accrue = AltcraftAccruePointsOperator(
        task_id="accrue",
        loyalty_program_id=1,
        profile_id="p-2",
        amount="30.00",
        points_currency_eid="stars",
        is_temp=True,
        temp_timeout_sec=600,
    )
    AltcraftCommitTransactionOperator(task_id="commit", transaction_id=accrue.output)  # type: ignore[arg-type]


def retried_redeem(dag_id: str, *, cancel: bool) -> DAG:
    """One redeem, retries allowed; with ``cancel``, then its cancellation."""
    with DAG(
        dag_id,
        schedule=None,
        start_date=START,
        default_args={
            "retries": 2,
            "retry_delay": timedelta(0),
            "on_failure_callback": record_failure,
        },
    ) as dag:
        redeem = AltcraftRedeemPointsOperator(
            task_id="redeem",
            loyalty_program_id=1,
            profile_id="p-1",
            amount="15.00",
            points_currency_eid="stars",
        )
        if cancel:
            redeem >> AltcraftCancelTransactionOperator(
                task_id="cancel",
                transaction_id=redeem.output,  # type: ignore[arg-type]
            )
    return dag


retry_no_state = retried_redeem("guide_retry_no_state", cancel=False)
retry_cancelled = retried_redeem("guide_retry_cancelled", cancel=True)
