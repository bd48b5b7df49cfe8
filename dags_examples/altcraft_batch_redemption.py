"""Redeem points for every row of a file, scaled out over Airflow workers.

``chunk_rows`` splits the file into row ranges; each range becomes one mapped task instance
(``expand_kwargs``), so Celery or Kubernetes workers share the run. Every mapped task runs
its rows with a few threads over one keep-alive session, and the ``altcraft_api`` pool caps
how many of them talk to Altcraft at once across all workers:

    airflow pools set altcraft_api 4 "Concurrent Altcraft batch tasks"

(each task holds one slot; 4 slots x concurrency 8 = at most 32 requests in flight).
The file must be readable by every worker (shared storage). Rows carry an ``order_id``: the
transaction eid derives from it, so re-running the DAG for the same file redeems nothing twice.
For a single task over the whole file, drop the chunking and pass ``rows_file`` directly.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow import DAG

try:
    from airflow.sdk import task
except ImportError:  # Airflow 2
    from airflow.decorators import task

from airflow_provider_altcraft.operators.batch import (
    AltcraftBatchRedeemPointsOperator,
    chunk_rows,
)

ROWS_FILE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "data", "batch_redemptions.csv"
)

with DAG(
    dag_id="altcraft_batch_redemption",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["altcraft", "example"],
) as dag:
    # [START howto_batch_chunks]
    @task
    def split_file(path: str) -> list[dict[str, Any]]:
        return chunk_rows(rows_file=path, chunk_size=15)

    redeem = AltcraftBatchRedeemPointsOperator.partial(
        task_id="redeem_chunk",
        pool="altcraft_api",
        loyalty_program_id=1,
        points_currency_eid="stars",
        column_mapping={"customer_email": "email", "points": "amount"},
        row_key_column="order_id",
        concurrency=8,
        failed_rows="fail",
        retries=2,
    ).expand_kwargs(split_file(ROWS_FILE))
    # [END howto_batch_chunks]

    @task
    def report(summaries: list[dict[str, Any]]) -> dict[str, Any]:
        from decimal import Decimal

        return {
            "chunks": len(summaries),
            "sent": sum(s["sent"] for s in summaries),
            "already_present": sum(s["already_present"] for s in summaries),
            "total_amount": str(sum(Decimal(s["total_amount"]) for s in summaries)),
        }

    report(redeem.output)
