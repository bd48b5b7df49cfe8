"""Reconcile every day: Altcraft's transactions against the warehouse's record of them.

What it shows:

* ``AltcraftExportTransactionsOperator`` exports the day's transactions (program 1, stars)
  and waits for the export in the triggerer (``deferrable=True``), then streams the CSV to a
  local file.
* ``AltcraftReconcileTransactionsOperator`` compares that file with the warehouse's
  ``loyalty_transactions`` on the connection ``altcraft_warehouse`` (param
  ``warehouse_conn_id``): SQLite by default, PostgreSQL by pointing the connection (or the
  param) at it. The demo warehouse records signed amounts without a type, hence
  ``columns={"transaction_type": None}``. Differences go to a CSV report and to the table
  ``altcraft_reconcile_report``; any difference fails the task (``on_difference="fail"``).
* Both tasks declare their file as an outlet Asset (templated paths: the tasks' own assets,
  ``altcraft://exports/altcraft_reconcile_daily/export_transactions`` and
  ``altcraft://reconcile-reports/altcraft_reconcile_daily/reconcile``); each success emits an
  event whose ``extra`` holds the path, the period and the counts.
  ``altcraft_reconcile_report_consumer`` is scheduled on the report's (docs/assets.md).

Setup: ``python scripts/create_demo_warehouse.py --sqlite /abs/path/warehouse.db``, the
connection ``altcraft_warehouse`` pointing at it, and an ``altcraft_default`` connection (the
sandbox works). Run ``altcraft_backfill_adjustments`` first so that Altcraft holds the
adjustments; the days 2024-09-01 to 2024-09-03 then reconcile with zero differences.
"""

from __future__ import annotations

import tempfile

import pendulum
from airflow import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_altcraft.operators.export import AltcraftExportTransactionsOperator
from airflow_provider_altcraft.operators.reconcile import AltcraftReconcileTransactionsOperator

DAY = "{{ data_interval_start | ds }}"

with DAG(
    dag_id="altcraft_reconcile_daily",
    # Whole UTC days as data intervals on Airflow 2 and 3 alike.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2024, 9, 1, tz="UTC"),
    catchup=False,
    params={
        "warehouse_conn_id": "altcraft_warehouse",
        "output_dir": f"{tempfile.gettempdir()}/altcraft_reconcile",
    },
    tags=["altcraft", "example"],
) as dag:
    # [START howto_export]
    export = AltcraftExportTransactionsOperator(
        task_id="export_transactions",
        loyalty_program_id=1,
        points_currency_eid="stars",
        output_path="{{ params.output_dir }}/" + DAY + "/transactions.csv",
        deferrable=True,
        poll_interval=2,
        timeout=1800,
    )
    # [END howto_export]
    # [START howto_reconcile]
    reconcile = AltcraftReconcileTransactionsOperator(
        task_id="reconcile",
        export_path="{{ ti.xcom_pull(task_ids='export_transactions')['path'] }}",
        warehouse_conn_id="{{ params.warehouse_conn_id }}",
        table="loyalty_transactions",
        columns={"transaction_type": None},
        report_path="{{ params.output_dir }}/" + DAY + "/report.csv",
        report_table="altcraft_reconcile_report",
        on_difference="fail",
    )
    # [END howto_reconcile]
    export >> reconcile
