"""A chunked batch redemption across Celery (or Kubernetes) workers, then a deferrable export.

``chunk_rows`` splits the file into row ranges; each range is one mapped task instance that any
worker may run. The ``altcraft_api`` pool caps how many chunks talk to Altcraft at once across
every worker, so at most ``pool slots x concurrency`` requests are in flight on the account:

    airflow pools set altcraft_api 3 "Concurrent Altcraft batch tasks"

Paths (the rows file, ``results_dir``) must be on storage every worker sees: a chunk's results
file and its durable progress record (beside it) are what lets a retry on *another* worker skip
the rows a crashed try already redeemed and look up only the few that were in flight. Run it
with the defaults or with a conf, e.g.::

    airflow dags trigger altcraft_batch_distributed --conf '{"rows_file": "/shared/r.csv",
        "chunk_size": 1250, "results_dir": "/shared/altcraft_results"}'

After the batch, the export (``deferrable=True``) waits for Altcraft's file in the triggerer,
holding no worker slot, and writes the period's transactions to ``results_dir``.
The same DAG runs unchanged on the KubernetesExecutor (docs/distributed.md).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow import DAG

try:
    from airflow.sdk import Param, task
except ImportError:  # Airflow 2
    from airflow.decorators import task
    from airflow.models.param import Param

from airflow_provider_altcraft.operators.batch import (
    AltcraftBatchRedeemPointsOperator,
    chunk_rows,
)
from airflow_provider_altcraft.operators.export import AltcraftExportTransactionsOperator

HERE = os.path.dirname(os.path.abspath(__file__))

with DAG(
    dag_id="altcraft_batch_distributed",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["altcraft", "example"],
    params={
        "rows_file": Param(os.path.join(HERE, "data", "batch_redemptions.csv"), type="string"),
        "chunk_size": Param(15, type="integer", minimum=1),
        "results_dir": Param("/tmp/altcraft_distributed", type="string"),
        "export_from": Param("2020-01-01", type="string"),
        "export_to": Param("2100-01-01", type="string"),
    },
) as dag:

    @task
    def split_file(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        assert params is not None
        return chunk_rows(rows_file=params["rows_file"], chunk_size=int(params["chunk_size"]))

    # [START howto_batch_distributed]
    redeem = AltcraftBatchRedeemPointsOperator.partial(
        task_id="redeem_chunk",
        pool="altcraft_api",
        loyalty_program_id=1,
        points_currency_eid="stars",
        column_mapping={"customer_email": "email", "points": "amount"},
        row_key_column="order_id",
        concurrency=4,
        # Shared storage: the progress record sits beside it (progress_path to move it).
        results_path="{{ params.results_dir }}/{{ run_id }}/chunk_{{ ti.map_index }}.csv",
        progress_window=200,
        progress_interval_sec=2,
        retries=3,
        retry_delay=timedelta(seconds=2),
    ).expand_kwargs(split_file())
    # [END howto_batch_distributed]

    @task
    def report(summaries: list[dict[str, Any]]) -> dict[str, Any]:
        from decimal import Decimal

        return {
            "chunks": len(summaries),
            "sent": sum(s["sent"] for s in summaries),
            "already_present": sum(s["already_present"] for s in summaries),
            "total_amount": str(sum(Decimal(s["total_amount"]) for s in summaries)),
        }

    export = AltcraftExportTransactionsOperator(
        task_id="export_transactions",
        loyalty_program_id=1,
        points_currency_eid="stars",
        output_path="{{ params.results_dir }}/{{ run_id }}/transactions.csv",
        date_from="{{ params.export_from }}",
        date_to="{{ params.export_to }}",
        deferrable=True,
        poll_interval=1,
        timeout=600,
    )

    report(redeem.output) >> export
