"""What the lineage tests share: a test DAG run in a subprocess with the OpenLineage provider
on and a file transport (the provider registers its listener once per process, at plugin
load, so this test process, whose Airflow is loaded without it, cannot switch it), and
readers of the events the listener wrote, one JSON line each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.dag_process import run_in_subprocess


def run_with_lineage(
    tmp_path: Path, module: str, dag_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``dag_id`` of tests/dags/``module``.py with OpenLineage on; the run (as
    :func:`run_in_subprocess` returns it) and every event emitted."""
    events_file = tmp_path / "events.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    run = run_in_subprocess(
        tmp_path,
        module,
        dag_id,
        {
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "altcraft-tests",
            "AIRFLOW__OPENLINEAGE__DISABLED": "False",
        },
    )
    assert events_file.exists(), "the OpenLineage listener emitted nothing"
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    return run, events


def task_event(events: list[dict[str, Any]], task_id: str, event_type: str) -> dict[str, Any]:
    """The one ``event_type`` event (START, COMPLETE) of task ``task_id``."""
    (event,) = [
        e for e in events
        if e.get("eventType") == event_type and e["job"]["name"].endswith(f".{task_id}")
    ]  # fmt: skip
    return event


def datasets(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(item["namespace"], item["name"]) for item in items}
