"""Fixtures of the operator tests: the example seed, ledger reads, and DAG-run variants that
``tests.dagrun.run_dag`` does not cover (re-running a DagRun, marking tasks successful)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from airflow_provider_altcraft.compat import AIRFLOW_V_3
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import SEED_PATH
from tests.dagrun import DagRunResult, collect, run_dag
from tests.operators.dag_support import argument_types_file, failures_file

if not AIRFLOW_V_3:
    # As in tests.dagrun.run_dag, which run() bypasses to mark tasks successful: Airflow 2's
    # dag.test() deletes the earlier run of the same date, and SQLAlchemy can only cascade that
    # through dag_run_note (user_id -> ab_user) with the FAB models loaded.
    import airflow.providers.fab.auth_manager.models  # noqa: F401

LOGICAL_DATE = datetime(2024, 9, 1, 6, 30, 15, tzinfo=timezone.utc)
#: Seed: ann (p-1, ann@example.com) holds 500.00 stars, bob (p-2) 120.50; both in program 1.
ANN_STARS = Decimal("500.00")
BOB_STARS = Decimal("120.50")


def load_example_seed(sandbox: SandboxHandle) -> None:
    """Load the example seed (module-scoped fixtures use the session sandbox directly), with
    the sandbox's default options, and forget the task records of earlier tests."""
    sandbox.load_seed(SEED_PATH)
    sandbox.reset()  # to that seed; also drops faults, the request log and option overrides
    failures_file().unlink(missing_ok=True)
    argument_types_file().unlink(missing_ok=True)


@pytest.fixture
def altcraft(sandbox: SandboxHandle, airflow_db: Path) -> Iterator[SandboxHandle]:
    """The sandbox on the example seed, default options, no faults, an empty request log.

    Options a test sets (``altcraft.configure(...)``) are undone afterwards, so they never
    leak into later tests (of this or another directory) on the session's sandbox."""
    load_example_seed(sandbox)
    yield sandbox
    sandbox.reset()


def stars(sandbox: SandboxHandle, profile_id: str) -> dict[str, Decimal]:
    """The member's stars account (total, active and held balances)."""
    return sandbox.balance(1, profile_id, "stars")


def api_transactions(sandbox: SandboxHandle, **filters: object) -> list[dict[str, Any]]:
    """Transactions made through the API (not the seed's opening balances)."""
    return sandbox.transactions(source_type="api", **filters)


def api_methods(sandbox: SandboxHandle) -> list[str]:
    """The API methods the sandbox received, in order."""
    return [entry["method"] for entry in sandbox.requests()]


def data_interval_start(dag_id: str, run_id: str) -> str:
    """The run's data interval start as RFC3339 UTC, read from the metadata DB."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_id, run_id=run_id).one()
        start = run.data_interval_start.astimezone(timezone.utc)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def run(
    dag: Any,
    *,
    conf: dict[str, Any] | None = None,
    mark_success_pattern: str | None = None,
) -> DagRunResult:
    """``tests.dagrun.run_dag`` at LOGICAL_DATE. With ``mark_success_pattern``, the matching
    tasks are set to success without running (``airflow dags test --mark-success-pattern``)."""
    if mark_success_pattern is None:
        return run_dag(dag, logical_date=LOGICAL_DATE, conf=conf)
    date_argument = "logical_date" if AIRFLOW_V_3 else "execution_date"
    dag_run = dag.test(
        **{date_argument: LOGICAL_DATE},
        run_conf=conf,
        mark_success_pattern=mark_success_pattern,
    )
    return collect(dag.dag_id, dag_run.run_id)


@contextmanager
def _reusing_existing_dagrun() -> Iterator[None]:
    """Make ``dag.test()`` run an existing DagRun again instead of replacing it.

    ``dag.test()`` clears the run's task instances, then deletes the run and creates a fresh
    one (try numbers back to 1). A scheduler never deletes: clearing a run in the UI keeps it,
    and each task's next try has the next try number. Returning the cleared run to the loop
    of ``dag.test()`` gives exactly that.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.state import DagRunState

    if AIRFLOW_V_3:
        import airflow.models.dagrun as module

        name, date_column = "get_or_create_dagrun", DagRun.logical_date
    else:
        import airflow.models.dag as module

        name, date_column = "_get_or_create_dagrun", DagRun.execution_date
    replace_run = getattr(module, name)

    def reuse_run(**kwargs: Any) -> Any:
        session = kwargs["session"]
        date = kwargs["logical_date"] if AIRFLOW_V_3 else kwargs["execution_date"]
        existing = (
            session.query(DagRun)
            .filter(DagRun.dag_id == kwargs["dag"].dag_id, date_column == date)
            .one_or_none()
        )
        if existing is None:
            return replace_run(**kwargs)
        existing.state = DagRunState.RUNNING
        session.commit()
        existing.dag = kwargs["dag"]  # as create_dagrun() leaves it, for the scheduling loop
        return existing

    with mock.patch.object(module, name, reuse_run):
        yield


def rerun(dag: Any, **kwargs: Any) -> DagRunResult:
    """Clear a DagRun already run with :func:`run` and run it again, as from the UI."""
    with _reusing_existing_dagrun():
        return run(dag, **kwargs)
