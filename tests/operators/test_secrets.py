"""The connection's token appears nowhere a full run leaves text (output, log records, log
files, XComs, rendered template fields), and the customer's e-mail is never logged in full."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import TOKEN
from tests.dagrun import DagRunResult, example_dag
from tests.operators.conftest import run

EMAIL = "ann@example.com"


def rendered_fields(dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """Every task's rendered template fields, as stored in the metadata DB."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rendered
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(Rendered).filter_by(dag_id=dag_id, run_id=run_id).all()
        return [dict(row.rendered_fields) for row in rows]


def log_files_text() -> str:
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return "\n".join(
        path.read_text(errors="replace") for path in sorted(logs.rglob("*")) if path.is_file()
    )


def test_no_token_and_no_full_email_anywhere(
    altcraft: SandboxHandle, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    dag = example_dag("altcraft_two_phase_redemption")
    # Both paths: the commit one, and the failing one (tracebacks, rollback).
    runs: list[DagRunResult] = [run(dag), run(dag, conf={"fail_business_step": True})]
    assert [result.state for result in runs] == ["success", "failed"]

    captured = capfd.readouterr()
    logs = "\n".join(
        [captured.out, captured.err, caplog.text, *(r.getMessage() for r in caplog.records)]
    )
    logs += log_files_text()
    xcoms = json.dumps([list(result.xcoms.values()) for result in runs], default=str)
    rendered = json.dumps(
        [rendered_fields(dag.dag_id, result.run_id) for result in runs], default=str
    )

    # Positive controls: the run's text was captured, XComs and rendered fields were read.
    assert "a***@example.com" in logs  # the redeem task's masked log line
    assert runs[0].xcom("redeem") in xcoms
    assert '"25.00"' in rendered
    for text in (logs, xcoms, rendered):
        assert TOKEN not in text
    assert EMAIL not in logs
    assert EMAIL not in xcoms
    assert EMAIL not in rendered  # masked before Airflow stores the rendered fields
