"""What the backend tests share: the sandbox's state for tests/dags/metrics_operators.py and
a run of that DAG in a subprocess whose environment configures Airflow's metrics (Airflow
picks its metrics backend once per process, from the configuration it reads at start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import SEED_PATH, TOKEN
from tests.dag_process import run_in_subprocess

REDEEM = "loyalty/redeeme_points"
ACCRUE = "loyalty/accrue_points"
#: The sandbox answers the accrual after this long: its duration shows the timers' unit.
DELAY_MS = 300
#: Values that must never appear in a metric (name, tag or value), besides the XComs' ids.
PERSONAL = (TOKEN, "ann@example.com", "+15550000001", "p-1", "p-2")
TASK_STATES = {
    "hold": "success",
    "commit": "success",
    "commit_again": "failed",  # already committed
    "accrue": "success",
    "too_much": "failed",  # insufficient points
}


def prepare(sandbox: SandboxHandle) -> None:
    """The example seed; one overload answer on the first redemption (a retry and a
    throttled event), the accrual answered after DELAY_MS."""
    sandbox.load_seed(SEED_PATH)
    sandbox.reset()
    sandbox.set_faults(
        [
            {"kind": "http_429", "methods": [REDEEM], "max_count": 1},
            {"kind": "delay", "methods": [ACCRUE], "delay_ms": DELAY_MS},
        ]
    )


def run_metrics_dag(tmp_path: Path, metrics_options: dict[str, str]) -> dict[str, Any]:
    """Run tests/dags/metrics_operators.py in a subprocess with ``[metrics]`` set from
    ``metrics_options``; its task states and XComs."""
    run = run_in_subprocess(
        tmp_path,
        "metrics_operators",
        "metrics_operators",
        {f"AIRFLOW__METRICS__{key.upper()}": value for key, value in metrics_options.items()},
        drop_prefix="AIRFLOW__METRICS__",
    )
    assert run["tasks"] == TASK_STATES
    return run


def personal_values(run: dict[str, Any]) -> set[str]:
    """What no metric may carry: the member's data, the token, the transactions' ids/eids."""
    ids = {
        str(value)
        for key, value in run["xcoms"].items()
        if key.endswith(("return_value", "transaction_eid"))
    }
    return set(PERSONAL) | ids
