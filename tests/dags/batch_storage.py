"""Batch tasks reading and writing object-storage URIs (tests/batch/test_storage.py).

The first task attaches fsspec's in-memory filesystem to Airflow's object-storage layer, as
a deployment attaches S3 or GCS (``memory://`` URIs then resolve through the same
``ObjectStoragePath`` code path). The DAG id, the batch arguments and the retries come from
the JSON the test writes beside this file; with ``chunk_size`` the rows file is split by
``chunk_rows`` into mapped tasks, as in the scale-out example; with ``object_paths`` the
paths are passed as ``ObjectStoragePath`` objects.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow import DAG

from airflow_provider_altcraft.compat import AIRFLOW_V_3
from airflow_provider_altcraft.operators.batch import AltcraftBatchRedeemPointsOperator, chunk_rows

# Type-checked against Airflow 3, as compat.py is.
if TYPE_CHECKING or AIRFLOW_V_3:
    from airflow.sdk import task
else:  # Airflow 2
    from airflow.decorators import task

SPEC: dict[str, Any] = json.loads(Path(__file__).with_suffix(".json").read_text("utf-8"))

with DAG(SPEC["dag_id"], schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:

    @task
    def attach_memory() -> None:
        from tests.object_storage import attach_memory

        attach_memory()  # in the process that runs the tasks

    common: dict[str, Any] = {
        "loyalty_program_id": 1,
        "concurrency": 4,
        "progress_interval_sec": 0.2,
        "retries": SPEC["retries"],
        "retry_delay": timedelta(0),
    }
    if SPEC.get("object_paths"):
        # The paths as ObjectStoragePath objects rather than URI text (both are accepted).
        from airflow_provider_altcraft.compat import ObjectStoragePath

        for name in ("rows_file", "results_path"):
            if name in SPEC["arguments"]:
                SPEC["arguments"][name] = ObjectStoragePath(SPEC["arguments"][name])
    if "chunk_size" in SPEC:

        @task
        def split(path: str, size: int) -> list[dict[str, Any]]:
            return chunk_rows(rows_file=path, chunk_size=size)

        chunks = split(SPEC["arguments"].pop("rows_file"), SPEC["chunk_size"])
        attach_memory() >> chunks
        AltcraftBatchRedeemPointsOperator.partial(
            task_id="batch", **common, **SPEC["arguments"]
        ).expand_kwargs(chunks)
    else:
        attach_memory() >> AltcraftBatchRedeemPointsOperator(
            task_id="batch", **common, **SPEC["arguments"]
        )
