"""Put transactions with historical dates into the sandbox ledger, over real HTTP.

Shared by the export, reconcile and backfill tests.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import Matching


def add_transaction(
    operation: str,
    amount: str,
    created_at: str,
    *,
    profile_id: str = "p-1",
    transaction_eid: str | None = None,
    is_temp: bool = False,
) -> str:
    """Redeem or accrue in program 1, currency stars; returns the transaction_id."""
    hook = AltcraftHook()
    send = hook.accrue_points if operation == "accrue" else hook.redeem_points
    result = send(
        loyalty_program_id=1,
        points_currency_eid="stars",
        amount=amount,
        matching=Matching.by_profile_id(profile_id),
        created_at=created_at,
        transaction_eid=transaction_eid,
        is_temp=is_temp,
    )
    return result.transaction_id


def ledger_rows_on(sandbox: Any, day: str) -> list[dict[str, Any]]:
    """The sandbox's program-1 stars transactions created on ``day`` (YYYY-MM-DD)."""
    return [
        tx
        for tx in sandbox.transactions(program_id=1, points_currency_eid="stars")
        if str(tx["created_at"]).startswith(day)
    ]


def csv_rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def run_covering(day: str) -> datetime:
    """The logical date of a manual test run whose default period is ``day``.

    A manual run's data interval ends at its logical date (Airflow 2) or is empty there
    (Airflow 3); either way the operators cover the UTC day that ended at that moment.
    """
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + timedelta(days=1)
