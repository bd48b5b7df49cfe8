"""The first DAG of docs/installation.md (the PyPI page, which cannot include files) run for
real against the sandbox, as written and with its business step failing: the hold is committed,
or rolled back with the run ending **failed** (the rollback is never the only leaf).
tests/packaging/test_wheel.py runs the same DAG from a clean install of the wheel."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.dagrun import dags_dir, load_dag, run_dag
from tests.docs.markdown import DOCS, code_blocks

BUSINESS_STEP_BODY = 'print(f"Paid with transaction {transaction_id}")'


def _page_dag() -> tuple[str, str]:
    """The page's one Python block and its dag_id."""
    (source,) = [
        block.body
        for block in code_blocks((DOCS / "installation.md").read_text(encoding="utf-8"))
        if block.info == "python"
    ]
    (dag_id,) = re.findall(r'dag_id="(\w+)"', source)
    return source, dag_id


def _write(source: str, dag_id: str) -> Path:
    path = dags_dir() / f"{dag_id}.py"
    path.write_text(source, encoding="utf-8")
    return path


def _stars(sandbox: SandboxHandle) -> Decimal:
    return Decimal(sandbox.balance(1, "p-1", "stars")["total_balance"])


def test_the_page_dag_commits_the_hold(sandbox: SandboxHandle, airflow_db: Path) -> None:
    source, dag_id = _page_dag()
    before = _stars(sandbox)

    result = run_dag(load_dag(_write(source, dag_id), dag_id))

    assert result.state == "success"
    assert result.state_of("rollback") == "skipped"
    (redemption,) = sandbox.transactions(source_type="api")
    assert redemption["status"] == "committed"
    assert before - _stars(sandbox) == Decimal("25")


def test_a_failed_business_step_rolls_back_and_fails_the_run(
    sandbox: SandboxHandle, airflow_db: Path
) -> None:
    source, dag_id = _page_dag()
    assert BUSINESS_STEP_BODY in source, "the page's business step changed; update this test"
    failing_id = f"{dag_id}_failing"
    failing = source.replace(f'dag_id="{dag_id}"', f'dag_id="{failing_id}"').replace(
        BUSINESS_STEP_BODY, 'raise RuntimeError("the voucher could not be issued")'
    )
    before = _stars(sandbox)

    result = run_dag(load_dag(_write(failing, failing_id), failing_id))

    assert result.state == "failed"
    assert result.state_of("business_step") == "failed"
    assert result.state_of("commit") == "upstream_failed"
    assert result.state_of("confirm") == "upstream_failed"  # the leaf that fails the run
    assert result.state_of("rollback") == "success"
    (redemption,) = sandbox.transactions(source_type="api")
    assert redemption["status"] == "rolled_back"
    assert _stars(sandbox) == before
