"""Run one test DAG in a fresh Python process, for the tests whose Airflow settings are read
once per process: the metrics backend (``[metrics]``) and the OpenLineage listener (registered
at plugin load). The test process's Airflow is already loaded, so a subprocess with its own
environment is the only clean way to switch them.

    python -m tests.dag_process <dags module> <dag id> <output.json>

runs the DAG with ``dag.test()`` and writes the run's state, task states and XComs as JSON;
:func:`run_in_subprocess` starts it and reads that back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_in_subprocess(
    tmp_path: Path,
    module: str,
    dag_id: str,
    env: Mapping[str, str],
    *,
    drop_prefix: str | None = None,
) -> dict[str, Any]:
    """Run ``dag_id`` of tests/dags/``module``.py in a subprocess with ``env`` added to this
    process's environment (less the variables starting with ``drop_prefix``); the run's
    ``{"state", "tasks", "xcoms"}``. The subprocess must exit cleanly."""
    full_env = {
        key: value
        for key, value in os.environ.items()
        if drop_prefix is None or not key.startswith(drop_prefix)
    }
    full_env.update(env)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    output = tmp_path / "run.json"
    process = subprocess.run(
        [sys.executable, "-m", "tests.dag_process", module, dag_id, str(output)],
        cwd=REPO, env=full_env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-3000:]
    run: dict[str, Any] = json.loads(output.read_text())
    return run


def main() -> None:
    from tests.dagrun import load_test_dag, run_dag

    module, dag_id, output = sys.argv[1:4]
    try:
        result = run_dag(load_test_dag(module, dag_id))
        states = {task_id: state for (task_id, _), state in result.task_states.items()}
        xcoms = {f"{task_id}.{key}": value for (task_id, _, key), value in result.xcoms.items()}
        Path(output).write_text(
            json.dumps({"state": result.state, "tasks": states, "xcoms": xcoms}, default=str)
        )
    finally:
        flush_opentelemetry()


def flush_opentelemetry() -> None:
    """Export the OpenTelemetry metrics now: Airflow 2.11's meter provider exports only every
    ``[metrics] otel_interval_milliseconds`` and drops what is left when a short process exits
    (3.x flushes at exit); a long-lived worker would export them at its next interval."""
    from opentelemetry import metrics

    force_flush = getattr(metrics.get_meter_provider(), "force_flush", None)
    if force_flush is not None:
        force_flush()


if __name__ == "__main__":
    main()
