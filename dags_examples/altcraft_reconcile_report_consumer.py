"""Run when the daily reconcile report is ready: a DAG scheduled on the report's Asset.

What it shows:

* ``altcraft_reconcile_daily``'s reconcile task writes its report to a templated path (one
  file per day), so it declares the task's asset,
  ``altcraft://reconcile-reports/altcraft_reconcile_daily/reconcile``
  (``reconcile_report_asset``); each successful run emits an event of it. This DAG is
  scheduled on that asset (``schedule=[REPORT_ASSET]``: a Dataset on Airflow 2).
* The event's ``extra`` holds the report's path (a local path or an object-storage URI), the
  period and the counts (``differences``, ``matched`` ... never a member or an amount).
  ``log_report`` reads it from the events that triggered the run; in a manual run (``airflow
  dags test``) there are none, and it reads the asset's latest event instead (the task
  declares the asset as an inlet).

The daily example fails its reconcile task on any difference (``on_difference="fail"``), and
a failed task emits no event: this DAG then runs for clean days only. Pass
``on_difference="warn"`` to the reconcile task to be told of every report.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow import DAG

from airflow_provider_altcraft.operators.reconcile import reconcile_report_asset

try:  # Airflow 3
    from airflow.sdk import get_current_context, task
except ImportError:  # Airflow 2
    from airflow.decorators import task
    from airflow.operators.python import get_current_context

# [START howto_report_asset]
REPORT_ASSET = reconcile_report_asset("altcraft_reconcile_daily", "reconcile")
# [END howto_report_asset]


def _latest_report_event(context: Any) -> Any:
    """The asset event that triggered this run, else (a manual run) the asset's latest."""
    # Airflow 3 names them triggering_asset_events, Airflow 2 triggering_dataset_events.
    triggering = context.get("triggering_asset_events") or context.get("triggering_dataset_events")
    events = [event for batch in (triggering or {}).values() for event in batch]
    if events:
        return events[-1]
    try:
        return context["inlet_events"][REPORT_ASSET][-1]
    except IndexError:
        return None


with DAG(
    dag_id="altcraft_reconcile_report_consumer",
    schedule=[REPORT_ASSET],
    start_date=pendulum.datetime(2024, 9, 1, tz="UTC"),
    catchup=False,
    tags=["altcraft", "example"],
) as dag:
    # [START howto_report_consumer]
    @task(inlets=[REPORT_ASSET])
    def log_report() -> dict[str, Any]:
        event = _latest_report_event(get_current_context())
        if event is None:
            raise ValueError(f"{REPORT_ASSET.uri} has no event yet: run the reconcile first")
        report = dict(event.extra)
        print(
            f"Reconcile report for {report['date_from']} to {report['date_to']}: "
            f"{report['differences']} differences, {report['matched']} matched, "
            f"at {report['path']}"
        )
        return report

    log_report()
    # [END howto_report_consumer]
