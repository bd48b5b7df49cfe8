"""Shared by the export, reconcile, asset and lineage tests: a fresh ``memory://`` bucket
(tests/object_storage.py) and runs of tests/dags/reconcile_storage.py."""

from __future__ import annotations

from typing import Any

import fsspec

from tests.dagrun import DagRunResult, load_test_dag, run_dag
from tests.export.ledger import run_covering
from tests.object_storage import bucket as bucket  # the fixture, for the test modules

SEPT_1 = run_covering("2024-09-01")


def put(uri: str, data: bytes) -> None:
    with fsspec.open(uri, "wb") as out:
        out.write(data)


def get(uri: str) -> bytes:
    with fsspec.open(uri, "rb") as data:
        return bytes(data.read())


def listing(bucket: str) -> list[str]:
    """Every object under ``bucket`` (``memory://`` paths without the scheme)."""
    memory = fsspec.filesystem("memory")
    return sorted(memory.find(bucket)) if memory.exists(bucket) else []


def storage_run(
    dag_id: str,
    *,
    export: dict[str, Any] | None = None,
    reconcile: dict[str, Any] | None = None,
) -> DagRunResult:
    """Run tests/dags/reconcile_storage.py with these tasks' arguments, on 2024-09-01."""
    spec = {"dag_id": dag_id, "export": export, "reconcile": reconcile}
    return run_dag(load_test_dag("reconcile_storage", dag_id, data=spec), logical_date=SEPT_1)


#: The export task's common arguments (program 1, stars, the run's data interval).
EXPORT = {"loyalty_program_id": 1, "points_currency_eid": "stars"}
