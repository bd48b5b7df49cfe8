"""Accrual and member operations (tests/operators/test_member_and_accrual_operators.py)."""

from __future__ import annotations

import pendulum
from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import (
    AltcraftAccruePointsOperator,
    AltcraftGetBalanceOperator,
    AltcraftRegisterMemberOperator,
    AltcraftRemoveMemberOperator,
)

with DAG(
    "member_and_accrual",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
) as dag:
    future = AltcraftAccruePointsOperator(
        task_id="future",
        loyalty_program_id=1,
        profile_id="p-2",
        amount="30.00",
        activation_date="2030-01-01T00:00:00Z",
        expiration_date="{{ '2031-01-01T00:00:00+03:00' }}",
        points_currency_eid="stars",
    )
    now = AltcraftAccruePointsOperator(
        task_id="now",
        loyalty_program_id=1,
        phone="+15550000002",
        amount="4.50",
        expiration_date="2030-06-30T00:00:00Z",
        points_currency_eid="stars",
    )
    balance = AltcraftGetBalanceOperator(
        task_id="balance",
        loyalty_program_id=1,
        profile_email="bob@example.com",
        points_currency_eid="stars",
    )
    [future, now] >> balance

    AltcraftRegisterMemberOperator(
        task_id="register",
        loyalty_program_id=1,
        profile_email="dee@example.com",
        registration_date="{{ data_interval_start }}",
    )
    AltcraftRemoveMemberOperator(task_id="remove", loyalty_program_id=1, profile_id="p-3")
