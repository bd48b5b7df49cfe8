"""The export-task sensor in real DAG runs: it waits for an export started outside the DAG
(tests/dags/export_sensor.py), whose id the run's conf carries."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from tests.dagrun import load_test_dag, run_dag
from tests.export.ledger import add_transaction
from tests.export.test_export import run_output


def _start_export() -> str:
    return AltcraftHook().start_transactions_export(
        loyalty_program_id=1,
        points_currency_eid="stars",
        date_from=date(2024, 9, 1),
        date_to=date(2024, 9, 1),
    )


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poke"])
def test_sensor_succeeds_with_the_file_urls(
    airflow_db: Path, sandbox: Any, deferrable: bool
) -> None:
    add_transaction("accrue", "5.00", "2024-09-01T10:00:00Z")
    export_task_id = _start_export()
    dag = load_test_dag("export_sensor", f"sensor_ok_{deferrable}")

    result = run_dag(dag, conf={"export_task_id": export_task_id})

    assert result.state == "success"
    assert result.xcom("wait") == {
        "status": "completed",
        "task_id": export_task_id,
        "urls": [f"/api/download/{export_task_id}/transactions.csv"],
        "total": 1,
    }


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poke"])
def test_sensor_fails_when_the_export_fails(
    airflow_db: Path,
    sandbox: Any,
    deferrable: bool,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sandbox.configure(export_mode="fail", export_delay_sec=0.1)
    export_task_id = _start_export()
    dag_id = f"sensor_fail_{deferrable}"
    dag = load_test_dag("export_sensor", dag_id)

    result = run_dag(dag, conf={"export_task_id": export_task_id})

    assert result.state_of("wait") == "failed"
    assert f"Altcraft task {export_task_id} failed: Export failed" in run_output(capfd, caplog)


@pytest.mark.parametrize("soft_fail", [True, False], ids=["soft_fail", "hard"])
@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poke"])
def test_sensor_timeout_is_a_sensor_timeout(
    airflow_db: Path,
    sandbox: Any,
    deferrable: bool,
    soft_fail: bool,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Deferred or not, a timeout skips with soft_fail, else fails without retry."""
    sandbox.configure(export_mode="stuck")
    export_task_id = _start_export()
    dag_id = f"sensor_timeout_{deferrable}_{soft_fail}"
    dag = load_test_dag("export_sensor", dag_id)  # timeout=0.5, soft_fail, retries=1

    result = run_dag(dag, conf={"export_task_id": export_task_id})

    assert result.state_of("wait") == ("skipped" if soft_fail else "failed")
    assert result.try_numbers[("wait", -1)] == 1
    if deferrable and not soft_fail:
        output = run_output(capfd, caplog)
        assert "AirflowSensorTimeout" in output
        assert f"Altcraft task {export_task_id} did not complete within the sensor" in output
