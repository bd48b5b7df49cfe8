"""Pieces that test DAG files import: callbacks that write down what Airflow does not keep
in its DB (the exception of a failed try; the types of rendered arguments), and readers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def failures_file() -> Path:
    return Path(os.environ["AIRFLOW_HOME"]) / "task_failures.jsonl"


def record_failure(context: Any) -> None:
    """``on_failure_callback``: one JSON line per failed try."""
    ti = context["ti"]
    exception = context.get("exception")
    entry = {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": ti.map_index,
        "try_number": ti.try_number,
        "type": type(exception).__name__,
        "message": str(exception),
    }
    with failures_file().open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


def read_failures(dag_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    """The last recorded failure of each (task_id, map_index) of ``dag_id``."""
    path = failures_file()
    if not path.exists():
        return {}
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["dag_id"] == dag_id:
            found[(entry["task_id"], entry["map_index"])] = entry
    return found


def argument_types_file() -> Path:
    return Path(os.environ["AIRFLOW_HOME"]) / "argument_types.jsonl"


def record_argument_types(context: Any) -> None:
    """``on_execute_callback``: the type of each rendered template field, as execute() sees it."""
    task = context["task"]
    types = {name: type(getattr(task, name)).__name__ for name in task.template_fields}
    with argument_types_file().open("a", encoding="utf-8") as out:
        out.write(json.dumps({"task_id": task.task_id, "types": types}) + "\n")


def read_argument_types() -> dict[str, dict[str, str]]:
    path = argument_types_file()
    if not path.exists():
        return {}
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {entry["task_id"]: entry["types"] for entry in entries}
