"""Two-phase redemption: hold the points, run the business step, then commit or roll back.

What it shows:

* ``redeem`` (``AltcraftRedeemPointsOperator`` with ``is_temp=True``) places a temporary
  hold: the member's active balance drops at once, the points are not spent yet. Its XCom
  ``return_value`` is the ``transaction_id``; ``balance_before`` / ``balance_after`` are pushed
  too.
* ``business_step`` stands for whatever the points pay for (issue a voucher, ship a gift).
  Trigger the DAG with conf ``{"fail_business_step": true}`` to watch the rollback path.
* ``commit`` makes the hold permanent, with ``transaction_id=redeem.output``.
* ``rollback`` (``trigger_rule="one_failed"``) releases the hold when the business step or the
  commit failed. If ``redeem`` itself failed there is no transaction and it is skipped.
* ``temp_timeout_sec`` is the safety net when neither commit nor rollback runs (a worker
  died, the run was stopped): Altcraft rolls the hold back by itself after that many seconds.
* ``report`` prints the transaction id and the balances before/after (from XCom).

Exactly once: the redeem task derives its ``transaction_eid`` from dag_id, task_id, run_id and
map_index, so a retry (or a cleared and re-run task) finds the transaction it already made
instead of redeeming twice. That lookup (``loyalty/account/transactions``) searches one
currency, so redeem and accrue require ``points_currency_eid`` (or ``points_currency_iid``):
here the param, ``stars`` by default. To use the connection's default instead, pass
``points_currency_eid=`` the template
``{{ conn.altcraft_default.extra_dejson.get('default_points_currency_eid', '') }}``.

Every value is a DAG param, overridable per run, e.g.
``airflow dags test altcraft_two_phase_redemption -c '{"amount": "10.00"}'``.
Needs an ``altcraft_default`` connection (the sandbox works: ``altcraft-sandbox``).
"""

from __future__ import annotations

# [START howto_two_phase_imports]
from typing import Any

import pendulum
from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import (
    AltcraftCommitTransactionOperator,
    AltcraftRedeemPointsOperator,
    AltcraftRollbackTransactionOperator,
)

try:
    from airflow.sdk import task
except ImportError:  # Airflow 2
    from airflow.decorators import task  # type: ignore[no-redef]
# [END howto_two_phase_imports]


with DAG(
    dag_id="altcraft_two_phase_redemption",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "loyalty_program_id": 1,
        # A profile id, not an e-mail: a DAG file's values are stored with the serialized DAG.
        "profile_id": "p-1",
        "amount": "25.00",
        "points_currency_eid": "stars",
        "temp_timeout_sec": 900,
        "fail_business_step": False,
    },
    tags=["altcraft", "example"],
) as dag:
    # [START howto_two_phase]
    redeem = AltcraftRedeemPointsOperator(
        task_id="redeem",
        loyalty_program_id="{{ params.loyalty_program_id }}",
        profile_id="{{ params.profile_id }}",
        amount="{{ params.amount }}",
        points_currency_eid="{{ params.points_currency_eid }}",
        is_temp=True,
        temp_timeout_sec="{{ params.temp_timeout_sec }}",
    )

    @task
    def business_step(transaction_id: str, **context: Any) -> None:
        """Whatever the points pay for; fails on request to show the rollback."""
        if context["params"]["fail_business_step"]:
            raise RuntimeError("Business step failed (conf fail_business_step=true)")
        print(f"Business step done for transaction {transaction_id}")

    commit = AltcraftCommitTransactionOperator(task_id="commit", transaction_id=redeem.output)

    rollback = AltcraftRollbackTransactionOperator(
        task_id="rollback", transaction_id=redeem.output, trigger_rule="one_failed"
    )

    @task
    def report(transaction_id: str, **context: Any) -> None:
        """Print what happened, from the XComs of redeem and commit."""
        ti = context["ti"]
        before = ti.xcom_pull(task_ids="redeem", key="balance_before")
        after = ti.xcom_pull(task_ids="commit", key="balance")
        amount = context["params"]["amount"]
        print(f"Redeemed {amount} points: transaction_id={transaction_id}")
        print(f"Active balance before={before} after={after}")

    business = business_step(redeem.output)
    business >> commit >> report(redeem.output)
    [business, commit] >> rollback
    # [END howto_two_phase]
