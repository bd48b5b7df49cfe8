"""One points task whose arguments are static (Python values, not templates), read when the file
is parsed from the JSON beside it, which the test writes first:
``{"dag_id": ..., "operator": "redeem" | "accrue", "arguments": {...}}``.

For the tests of static mistakes: the operator refuses them while the file is parsed, so the
DAG file has an import error (tests/operators/test_bad_inputs.py, test_guide_facts.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow import DAG

from airflow_provider_altcraft.operators.loyalty import (
    AltcraftAccruePointsOperator,
    AltcraftRedeemPointsOperator,
)

OPERATORS: dict[str, type[AltcraftRedeemPointsOperator | AltcraftAccruePointsOperator]] = {
    "redeem": AltcraftRedeemPointsOperator,
    "accrue": AltcraftAccruePointsOperator,
}
SPEC: dict[str, Any] = json.loads(Path(__file__).with_suffix(".json").read_text("utf-8"))

with DAG(SPEC["dag_id"], schedule=None) as dag:
    OPERATORS[SPEC["operator"]](task_id="points", **SPEC["arguments"])
