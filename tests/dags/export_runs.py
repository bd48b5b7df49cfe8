"""The export operator in daily runs (tests/export/test_export.py); the test passes the folder
of the CSV in ``dag_run.conf["out_dir"]``.

One DAG per case, as its static arguments differ: ``export_ok_deferred`` / ``export_ok_poll``
and ``export_fail_<deferrable>`` (timeout 10 s), ``export_stuck_<deferrable>`` (timeout 0.5 s).
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow import DAG

from airflow_provider_altcraft.operators.export import AltcraftExportTransactionsOperator


def export_dag(dag_id: str, *, deferrable: bool, timeout: float = 10.0) -> DAG:
    with DAG(
        dag_id,
        schedule="@daily",
        start_date=datetime(2024, 9, 1, tzinfo=timezone.utc),
        catchup=False,
    ) as dag:
        AltcraftExportTransactionsOperator(
            task_id="export",
            loyalty_program_id=1,
            points_currency_eid="stars",
            output_path="{{ dag_run.conf['out_dir'] }}/transactions.csv",
            deferrable=deferrable,
            poll_interval=0.1,
            timeout=timeout,
            retries=0,
        )
    return dag


for _deferrable in (True, False):
    for _dag in (
        export_dag(f"export_ok_{'deferred' if _deferrable else 'poll'}", deferrable=_deferrable),
        export_dag(f"export_fail_{_deferrable}", deferrable=_deferrable),
        export_dag(f"export_stuck_{_deferrable}", deferrable=_deferrable, timeout=0.5),
    ):
        globals()[_dag.dag_id] = _dag
