"""An export task, a reconcile task or both, writing and reading object-storage URIs
(tests/export/test_storage.py, tests/reconcile/test_storage_paths.py, tests/assets,
tests/lineage).

The first task attaches fsspec's in-memory filesystem to Airflow's object-storage layer, as a
deployment attaches S3 or GCS (``memory://`` URIs then resolve through the same
``ObjectStoragePath`` code). The DAG id and both tasks' arguments come from the JSON the test
writes beside this file; ``export_path_from_xcom`` makes the reconcile read the path the
export returned.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow import DAG

from airflow_provider_altcraft.compat import AIRFLOW_V_3
from airflow_provider_altcraft.operators.export import AltcraftExportTransactionsOperator
from airflow_provider_altcraft.operators.reconcile import AltcraftReconcileTransactionsOperator

# Type-checked against Airflow 3, as compat.py is.
if TYPE_CHECKING or AIRFLOW_V_3:
    from airflow.sdk import task
else:  # Airflow 2
    from airflow.decorators import task

SPEC: dict[str, Any] = json.loads(Path(__file__).with_suffix(".json").read_text("utf-8"))

with DAG(
    SPEC["dag_id"],
    schedule="@daily",
    start_date=datetime(2024, 9, 1, tzinfo=timezone.utc),
    catchup=False,
) as dag:

    @task
    def attach_memory() -> None:
        from tests.object_storage import attach_memory

        attach_memory()  # in the process that runs the tasks

    upstream: Any = attach_memory()
    if SPEC.get("export") is not None:
        export = AltcraftExportTransactionsOperator(
            task_id="export", poll_interval=0.1, timeout=20, retries=0, **SPEC["export"]
        )
        upstream >> export
        upstream = export
    if SPEC.get("reconcile") is not None:
        arguments = dict(SPEC["reconcile"])
        if arguments.pop("export_path_from_xcom", False):
            arguments["export_path"] = "{{ ti.xcom_pull(task_ids='export')['path'] }}"
        reconcile = AltcraftReconcileTransactionsOperator(
            task_id="reconcile", retries=0, **arguments
        )
        upstream >> reconcile
