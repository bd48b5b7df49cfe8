"""The per-row results file: private, never through a symlink, never over another run's."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.operators.batch import AltcraftBatchRedeemPointsOperator
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.batch.conftest import make_rows
from tests.batch.test_batch_runs import DAY_1, DAY_2, batch_dag
from tests.dagrun import run_dag


def test_results_are_owner_only_in_a_private_directory(
    batch_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    path = tmp_path / "new" / "results.csv"
    dag = batch_dag("results_private", f"rows={make_rows(3)!r}, results_path={str(path)!r},")

    assert run_dag(dag, logical_date=DAY_1).state == "success"

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_results_file_of_another_run_is_never_overwritten(
    batch_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    path = tmp_path / "results.csv"
    dag = batch_dag("results_shared", f"rows={make_rows(3)!r}, results_path={str(path)!r},")
    assert run_dag(dag, logical_date=DAY_1).state == "success"
    first = path.read_text()
    batch_sandbox.clear_requests()

    second = run_dag(dag, logical_date=DAY_2)

    assert second.state == "failed"
    assert path.read_text() == first
    assert batch_sandbox.requests() == []  # refused before anything was sent


def test_a_symlinked_results_path_is_refused_before_sending(
    batch_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.csv"
    target.write_text("precious\n")
    link = tmp_path / "results.csv"
    os.symlink(target, link)

    # Written in the DAG file: the DAG does not import.
    with pytest.raises(AltcraftValidationError, match=r"results_path.*symbolic link"):
        AltcraftBatchRedeemPointsOperator(
            task_id="t", loyalty_program_id=1, rows=make_rows(3), results_path=str(link)
        )
    # Templated: the task fails before sending anything.
    templated = "{{ params.results }}"
    dag = batch_dag(
        "results_symlink",
        f"rows={make_rows(3)!r}, results_path={templated!r}, params={{'results': {str(link)!r}}},",
    )
    assert run_dag(dag, logical_date=DAY_1).state == "failed"

    assert target.read_text() == "precious\n"
    assert batch_sandbox.requests() == []
