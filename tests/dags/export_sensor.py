"""The export-task sensor waiting for an export started outside the DAG: the test starts it and
passes its id in ``dag_run.conf["export_task_id"]`` (tests/export/test_sensor.py).

One DAG per case, as its static sensor arguments differ: ``sensor_ok_<deferrable>`` and
``sensor_fail_<deferrable>`` (timeout 10 s, no retry), ``sensor_timeout_<deferrable>_<soft_fail>``
(timeout 0.5 s, one retry allowed).
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow import DAG

from airflow_provider_altcraft.sensors.altcraft import AltcraftExportTaskSensor


def sensor_dag(
    dag_id: str,
    *,
    deferrable: bool,
    timeout: float = 10,
    soft_fail: bool = False,
    retries: int = 0,
) -> DAG:
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 9, 1, tzinfo=timezone.utc)) as dag:
        AltcraftExportTaskSensor(
            task_id="wait",
            export_task_id="{{ dag_run.conf['export_task_id'] }}",
            deferrable=deferrable,
            poke_interval=0.1,
            timeout=timeout,
            soft_fail=soft_fail,
            retries=retries,
        )
    return dag


for _deferrable in (True, False):
    for _dag in (
        sensor_dag(f"sensor_ok_{_deferrable}", deferrable=_deferrable),
        sensor_dag(f"sensor_fail_{_deferrable}", deferrable=_deferrable),
        *(
            sensor_dag(
                f"sensor_timeout_{_deferrable}_{_soft_fail}",
                deferrable=_deferrable,
                timeout=0.5,
                soft_fail=_soft_fail,
                retries=1,
            )
            for _soft_fail in (True, False)
        ),
    ):
        globals()[_dag.dag_id] = _dag
