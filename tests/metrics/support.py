"""What the backend tests share: the sandbox's state for tests/dags/metrics_operators.py and
a run of that DAG in a subprocess whose environment configures Airflow's metrics (Airflow
picks its metrics backend once per process, from the configuration it reads at start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import REPO, SEED_PATH, TOKEN

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
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW__METRICS__")
    }
    env.update(
        {f"AIRFLOW__METRICS__{key.upper()}": value for key, value in metrics_options.items()}
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    output = tmp_path / "run.json"
    process = subprocess.run(
        [sys.executable, "-m", "tests.metrics.run_dag", "metrics_operators", "metrics_operators",
         str(output)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-3000:]
    run: dict[str, Any] = json.loads(output.read_text())
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
