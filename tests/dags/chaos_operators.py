"""Single redeems in a real Airflow DAG run, mapped over rows with Airflow retries
(tests/chaos/test_chaos.py).

The rows (``[{"profile_id": ..., "amount": ...}, ...]``, drawn by the test) are read when the
file is parsed, from the JSON the test writes beside it first: every parse sees the same ones.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import AltcraftRedeemPointsOperator

ROWS: list[dict[str, Any]] = json.loads(Path(__file__).with_suffix(".json").read_text("utf-8"))

with DAG("chaos_operators", schedule=None, start_date=datetime(2024, 1, 1), catchup=False) as dag:
    AltcraftRedeemPointsOperator.partial(
        task_id="redeem",
        loyalty_program_id=1,
        points_currency_eid="stars",
        retries=12,
        retry_delay=timedelta(0),
    ).expand_kwargs(ROWS)
