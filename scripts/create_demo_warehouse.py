"""Create the demo warehouse of the reconcile and backfill example DAGs.

    python scripts/create_demo_warehouse.py                       # ./altcraft_demo_warehouse.db
    python scripts/create_demo_warehouse.py --sqlite /path/to/warehouse.db
    python scripts/create_demo_warehouse.py --postgres postgresql://postgres@127.0.0.1:5432/test

Tables (the same on SQLite and PostgreSQL):

* ``points_adjustments``: manual point adjustments made by the support team, one per row:
  ``adjustment_id`` (int), ``profile_id``, ``amount`` (signed: positive = accrue, negative =
  redeem), ``created_at`` (when it was made, UTC) and ``reason``. Demo rows on 2024-09-01 to
  2024-09-03 for the sandbox's seed members p-1 and p-2.
* ``loyalty_transactions`` (a view): the warehouse's record of what Altcraft should hold:
  one transaction per adjustment, ``transaction_eid`` = ``'adj-<adjustment_id>'`` (the eid the
  backfill DAG sends), signed ``amount``, ``status`` ``'active'``.

Then point the Airflow connection ``altcraft_warehouse`` at it, e.g.
``AIRFLOW_CONN_ALTCRAFT_WAREHOUSE='{"conn_type": "sqlite", "host": "/abs/path/warehouse.db"}'``
or ``AIRFLOW_CONN_ALTCRAFT_WAREHOUSE='postgresql://postgres@127.0.0.1:5432/test'``.
Existing demo tables are replaced. Only the standard library is needed for SQLite
(psycopg2 for PostgreSQL).
"""

from __future__ import annotations

import argparse
import sqlite3
from typing import Any

#: (adjustment_id, profile_id, signed amount, created_at UTC, reason)
ADJUSTMENTS = (
    (1, "p-1", "25.00", "2024-09-01T09:15:00Z", "goodwill: late delivery"),
    (2, "p-2", "-10.50", "2024-09-01T14:02:11Z", "points clawback: returned order"),
    (3, "p-1", "-40.00", "2024-09-02T08:00:00Z", "manual redemption at the desk"),
    (4, "p-2", "5.25", "2024-09-02T23:59:59Z", "survey reward"),
    (5, "p-1", "100.00", "2024-09-03T00:00:00Z", "birthday bonus"),
    (6, "p-2", "-20.00", "2024-09-03T17:45:30Z", "duplicate accrual corrected"),
)

VIEW = (
    "CREATE VIEW loyalty_transactions AS "
    "SELECT CAST(NULL AS TEXT) AS transaction_id, 'adj-' || adjustment_id AS transaction_eid, "
    "created_at, amount, 'active' AS status FROM points_adjustments"
)


def create_sqlite(path: str) -> None:
    with sqlite3.connect(path) as db:
        _create(db, "?", created_at_type="TEXT", amount_type="TEXT")
    db.close()


def create_postgres(url: str) -> None:
    import psycopg2

    with psycopg2.connect(url) as db:
        _create(db, "%s", created_at_type="TIMESTAMPTZ", amount_type="NUMERIC(12, 2)")
    db.close()


def _create(db: Any, placeholder: str, *, created_at_type: str, amount_type: str) -> None:
    cursor = db.cursor()
    cursor.execute("DROP VIEW IF EXISTS loyalty_transactions")
    cursor.execute("DROP TABLE IF EXISTS points_adjustments")
    # amount as TEXT on SQLite: its NUMERIC affinity would store binary floats.
    cursor.execute(
        "CREATE TABLE points_adjustments (adjustment_id INTEGER PRIMARY KEY, "
        f"profile_id TEXT NOT NULL, amount {amount_type} NOT NULL, "
        f"created_at {created_at_type} NOT NULL, reason TEXT)"
    )
    marks = ", ".join([placeholder] * 5)
    cursor.executemany(f"INSERT INTO points_adjustments VALUES ({marks})", ADJUSTMENTS)
    cursor.execute(VIEW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--sqlite", metavar="PATH", default="altcraft_demo_warehouse.db")
    target.add_argument("--postgres", metavar="URL")
    args = parser.parse_args()
    if args.postgres:
        create_postgres(args.postgres)
        print(f"demo warehouse created in {args.postgres}")
    else:
        create_sqlite(args.sqlite)
        print(f"demo warehouse created in {args.sqlite}")


if __name__ == "__main__":
    main()
