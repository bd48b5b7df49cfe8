"""Backfill historical point adjustments from the warehouse into Altcraft, exactly once.

What it shows:

* A daily schedule with ``catchup=True``: each run sends the adjustments made during its
  data interval (one UTC day), read from the warehouse table ``points_adjustments`` by SQL.
  The schedule is an explicit ``CronDataIntervalTimetable`` so that a run covers the same day
  on Airflow 2 and 3 (Airflow 3's plain ``"@daily"`` runs have an empty data interval).
* ``AltcraftBatchPointsOperator(operation="by_sign")``: a positive amount accrues, a negative
  one redeems its absolute value, all in one task over one keep-alive connection.
* Each transaction is dated with the adjustment's own timestamp (the ``created_at`` column),
  not with the time of the backfill.
* Exactly once: the eid is derived from the adjustment id (``'adj-' || adjustment_id``), so
  re-running any day (clear, retry, a second backfill over the same range) finds the
  transactions already in Altcraft and sends nothing again.

Setup: ``python scripts/create_demo_warehouse.py --sqlite /abs/path/warehouse.db`` and a
connection ``altcraft_warehouse`` pointing at it (or at PostgreSQL, see that script), plus an
``altcraft_default`` connection (the sandbox works). Backfill three days:

    airflow backfill create --dag-id altcraft_backfill_adjustments \\
        --from-date 2024-09-01 --to-date 2024-09-03            # Airflow 3
    airflow dags backfill -s 2024-09-01 -e 2024-09-03 altcraft_backfill_adjustments  # Airflow 2
"""

from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_altcraft.operators.batch import AltcraftBatchPointsOperator

WAREHOUSE_CONN_ID = "altcraft_warehouse"

# The day's adjustments; the same SQL runs on SQLite (ISO-8601 text timestamps) and
# PostgreSQL (timestamptz compared with a date literal in the session's UTC time zone).
# [START howto_backfill]
ADJUSTMENTS_OF_THE_DAY = """
SELECT 'adj-' || adjustment_id AS transaction_eid,
       profile_id,
       amount,
       created_at
  FROM points_adjustments
 WHERE created_at >= '{{ data_interval_start | ds }}'
   AND created_at < '{{ data_interval_end | ds }}'
 ORDER BY adjustment_id
"""

with DAG(
    dag_id="altcraft_backfill_adjustments",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2024, 9, 1, tz="UTC"),
    catchup=True,
    max_active_runs=1,
    tags=["altcraft", "example"],
) as dag:
    AltcraftBatchPointsOperator(
        task_id="send_adjustments",
        operation="by_sign",
        sql=ADJUSTMENTS_OF_THE_DAY,
        sql_conn_id=WAREHOUSE_CONN_ID,
        loyalty_program_id=1,
        points_currency_eid="stars",
        is_temp=False,
    )
# [END howto_backfill]
