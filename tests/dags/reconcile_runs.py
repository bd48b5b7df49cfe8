"""A reconcile task, with an export task upstream or not, in a real Airflow DAG run
(tests/reconcile). The DAG id, schedule and both tasks' arguments are read when the file is
parsed, from the JSON the test writes beside it first, so every parse builds the same DAG
(``retry_delay_seconds`` stands for a ``retry_delay``, which JSON cannot hold)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow import DAG

from airflow_provider_altcraft.operators.export import AltcraftExportTransactionsOperator
from airflow_provider_altcraft.operators.reconcile import AltcraftReconcileTransactionsOperator

SPEC: dict[str, Any] = json.loads(Path(__file__).with_suffix(".json").read_text("utf-8"))


def _arguments(values: dict[str, Any]) -> dict[str, Any]:
    arguments = dict(values)
    if "retry_delay_seconds" in arguments:
        arguments["retry_delay"] = timedelta(seconds=arguments.pop("retry_delay_seconds"))
    return arguments


with DAG(
    SPEC["dag_id"],
    schedule=SPEC.get("schedule"),
    start_date=datetime(2024, 9, 1, tzinfo=timezone.utc),
    catchup=False,
) as dag:
    reconcile = AltcraftReconcileTransactionsOperator(
        task_id="reconcile", **_arguments(SPEC["reconcile"])
    )
    if SPEC.get("export") is not None:
        export = AltcraftExportTransactionsOperator(task_id="export", **SPEC["export"])
        export >> reconcile
