"""One batch task in a real Airflow DAG run (tests/batch): the DAG id, the operator (Redeem,
Accrue or the by-sign base), its retries and its arguments are read when the file is parsed,
from the JSON the test writes beside it first, so every parse builds the same DAG."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow import DAG

from airflow_provider_altcraft.operators import batch

SPEC: dict[str, Any] = json.loads(Path(__file__).with_suffix(".json").read_text("utf-8"))
OPERATOR: type[batch.AltcraftBatchPointsOperator] = getattr(
    batch, f"AltcraftBatch{SPEC['operator']}PointsOperator"
)

with DAG(SPEC["dag_id"], schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    OPERATOR(
        task_id="batch",
        loyalty_program_id=1,
        concurrency=4,
        progress_interval_sec=0.2,
        retries=SPEC["retries"],
        retry_delay=timedelta(0),
        **SPEC["arguments"],
    )
