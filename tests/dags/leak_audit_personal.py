"""A member by e-mail from params (templated), and mapped redeems over e-mails and phones: the
values Airflow sets on a mapped task are not templates, and are rendered by the mapped
operator's own path (tests/operators/test_secrets.py)."""

from __future__ import annotations

from datetime import datetime

from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import AltcraftRedeemPointsOperator

with DAG(
    "leak_audit_personal",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"email": "ann@example.com"},
) as dag:
    AltcraftRedeemPointsOperator(
        task_id="by_email",
        loyalty_program_id=1,
        amount="1.00",
        points_currency_eid="stars",
        profile_email="{{ params.email }}",
    )
    AltcraftRedeemPointsOperator.partial(
        task_id="mapped", loyalty_program_id=1, amount="0.50", points_currency_eid="stars"
    ).expand_kwargs([{"profile_email": "bob@example.com"}, {"phone": "+15550000001"}])
