"""The leak audit: full runs of every single-operator example DAG, and of DAGs that name members
by e-mail and phone (mapped ones included). The token appears nowhere a run leaves text;
e-mails and phones appear only where the DAG author put them (the DAG file), never in logs,
log files, XComs, rendered template fields, or the serialized example DAGs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import SEED_PATH, TOKEN
from tests.dagrun import DagRunResult, example_dag, load_test_dag
from tests.operators.conftest import run

#: Every e-mail and phone of the example seed: none may leak, whoever the runs redeem for.
SEED_PROFILES = json.loads(Path(SEED_PATH).read_text())["profiles"]
PERSONAL = sorted(
    {p["email"] for p in SEED_PROFILES if p.get("email")}
    | {p["phone"] for p in SEED_PROFILES if p.get("phone")}
)
EXAMPLES = ("altcraft_two_phase_redemption", "altcraft_scheduled_redemption")


def rendered_fields(dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """Every task's rendered template fields, as stored in the metadata DB."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rendered
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(Rendered).filter_by(dag_id=dag_id, run_id=run_id).all()
        return [dict(row.rendered_fields) for row in rows]


def serialized(dag: Any) -> str:
    """The DAG as Airflow serializes it for the metadata DB (and the UI)."""
    try:
        from airflow.serialization.serialized_objects import DagSerialization as Serializer
    except ImportError:  # Airflow 2
        from airflow.serialization.serialized_objects import SerializedDAG as Serializer
    return json.dumps(Serializer.to_dict(dag), default=str)


def log_files_text() -> str:
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return "\n".join(
        path.read_text(errors="replace") for path in sorted(logs.rglob("*")) if path.is_file()
    )


def test_no_token_and_no_personal_data_anywhere_a_run_leaves_text(
    altcraft: SandboxHandle, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    two_phase = example_dag("altcraft_two_phase_redemption")
    scheduled = example_dag("altcraft_scheduled_redemption")
    # A member by e-mail from params, and mapped redeems over e-mails and phones.
    personal = load_test_dag("leak_audit_personal", "leak_audit_personal")
    runs: list[tuple[Any, DagRunResult]] = [
        (two_phase, run(two_phase)),
        (two_phase, run(two_phase, conf={"fail_business_step": True})),  # tracebacks, rollback
        (scheduled, run(scheduled)),  # mapped
        (personal, run(personal)),
    ]
    assert [result.state for _, result in runs] == ["success", "failed", "success", "success"]
    assert len(altcraft.transactions(transaction_type="redeem")) == 2 + 5 + 3

    captured = capfd.readouterr()
    logs = "\n".join(
        [captured.out, captured.err, caplog.text, *(r.getMessage() for r in caplog.records)]
    )
    logs += log_files_text()
    xcoms = json.dumps([list(result.xcoms.values()) for _, result in runs], default=str)
    rendered = json.dumps(
        [rendered_fields(dag.dag_id, result.run_id) for dag, result in runs], default=str
    )
    examples = "".join(serialized(example_dag(dag_id)) for dag_id in EXAMPLES)

    # Positive controls: every place was captured and holds what it should.
    assert "a***@example.com" in logs and "b***@example.com" in logs  # masked, by_email+mapped
    assert runs[0][1].xcom("redeem") in xcoms
    assert '"25.00"' in rendered and '"0.50"' in rendered  # the mapped tasks' fields too
    assert "altcraft_scheduled_redemption" in examples and '"p-1"' in examples
    assert "ann@example.com" in serialized(personal)  # where the author put it: allowed
    for text in (logs, xcoms, rendered, examples):
        assert TOKEN not in text
    for value in PERSONAL:
        for where, text in (("logs", logs), ("XComs", xcoms), ("rendered fields", rendered),
                            ("example DAGs", examples)):  # fmt: skip
            assert value not in text, f"{value} leaked into {where}"
