"""Scheduled redemption: every day, redeem points for each row of a small input file.

What it shows:

* The rows come from ``data/redemptions.csv``, shipped beside this file; its columns are
  operator arguments. Each row names the member by ``profile_id`` or by a custom field
  (``field_name`` + ``field_value``), so ``matching`` is inferred, and carries the ``amount``
  as a string (exact decimals). The file is tiny, so it is read when the DAG is parsed, and
  its values become part of the serialized DAG that Airflow stores and shows: that is why it
  holds no e-mails or phones. Rows that name members by e-mail or phone belong in the bulk
  operator's ``rows_file``, read only when the task runs (``altcraft_batch_redemption.py``).
* ``AltcraftRedeemPointsOperator.partial(...).expand_kwargs(...)``: dynamic task mapping, one
  mapped task instance per row. Arguments shared by every row go to ``partial``;
  ``created_at`` is the run's ``data_interval_start``, so a backfill dates its transactions
  correctly.
* Exactly once per row: no ``transaction_eid`` is given, so each mapped instance derives one
  from dag_id, task_id, run_id and its map_index. A retry or a re-run of the same DAG run finds
  the transaction it already made instead of redeeming again. (A run's input must therefore
  not change between tries; when the rows carry a business key, such as an order id, pass it
  as ``transaction_eid`` instead.)

One mapped task per row suits a handful of rows. For thousands of rows use the bulk operator,
``AltcraftBatchRedeemPointsOperator`` (see ``altcraft_batch_redemption.py``): one task,
concurrent requests, the same exactly-once rule.
Needs an ``altcraft_default`` connection (the sandbox works: ``altcraft-sandbox``).
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import AltcraftRedeemPointsOperator

REDEMPTIONS_CSV = Path(__file__).parent / "data" / "redemptions.csv"


def read_redemptions() -> list[dict[str, str]]:
    """One dict of operator arguments per CSV row; an empty cell is an argument not given."""
    import csv

    with REDEMPTIONS_CSV.open(newline="", encoding="utf-8") as rows:
        return [
            {column: value for column, value in row.items() if value}
            for row in csv.DictReader(rows)
        ]


with DAG(
    dag_id="altcraft_scheduled_redemption",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["altcraft", "example"],
) as dag:
    # [START howto_mapped_redeem]
    AltcraftRedeemPointsOperator.partial(
        task_id="redeem",
        loyalty_program_id=1,
        points_currency_eid="stars",
        created_at="{{ data_interval_start }}",
    ).expand_kwargs(read_redemptions())
    # [END howto_mapped_redeem]
