"""Shared by the export, reconcile, asset and lineage tests: a fresh ``memory://`` bucket of
fsspec's in-memory filesystem (the one tests/dags/reconcile_storage.py attaches to Airflow's
object-storage layer) and runs of that DAG."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import fsspec
import pytest

from tests.dagrun import DagRunResult, load_test_dag, run_dag
from tests.export.ledger import run_covering

SEPT_1 = run_covering("2024-09-01")


@pytest.fixture
def bucket() -> Iterator[str]:
    """A fresh ``memory://`` bucket (removed afterwards)."""
    name = f"bucket-{uuid.uuid4().hex[:8]}"
    yield f"memory://{name}"
    memory = fsspec.filesystem("memory")
    if memory.exists(f"/{name}"):
        memory.rm(f"/{name}", recursive=True)


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
