"""Run one test DAG in this process and write its run's task states as JSON.

The StatsD test runs this in a subprocess whose environment turns Airflow's metrics on
(``AIRFLOW__METRICS__*``): Airflow picks its metrics backend once per process, from the
configuration it reads at start, so a fresh process is the only clean way to switch it.

    python -m tests.metrics.run_dag <dags module> <dag id> <output.json>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.dagrun import load_test_dag, run_dag


def main() -> None:
    module, dag_id, output = sys.argv[1:4]
    result = run_dag(load_test_dag(module, dag_id))
    states = {task_id: state for (task_id, _), state in result.task_states.items()}
    xcoms = {f"{task_id}.{key}": value for (task_id, _, key), value in result.xcoms.items()}
    Path(output).write_text(
        json.dumps({"state": result.state, "tasks": states, "xcoms": xcoms}, default=str)
    )
    flush_opentelemetry()


def flush_opentelemetry() -> None:
    """Export the OpenTelemetry metrics now: Airflow 2.11's meter provider does not flush at
    exit (3.x's does), and a long-lived worker would export them at the next interval."""
    from opentelemetry import metrics

    force_flush = getattr(metrics.get_meter_provider(), "force_flush", None)
    if force_flush is not None:
        force_flush()


if __name__ == "__main__":
    main()
