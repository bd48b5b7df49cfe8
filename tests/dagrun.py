"""Run a DAG for real (``dag.test()`` on the SQLite metadata DB) and read back what it left.

Tests may branch on the Airflow version here (the package itself does so only in compat.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.compat import AIRFLOW_V_3


@dataclass
class DagRunResult:
    run_id: str
    state: str
    task_states: dict[tuple[str, int], str | None]
    xcoms: dict[tuple[str, int, str], Any]
    try_numbers: dict[tuple[str, int], int]

    def state_of(self, task_id: str, map_index: int = -1) -> str | None:
        return self.task_states[(task_id, map_index)]

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        return self.xcoms.get((task_id, map_index, key))


def dags_dir() -> Path:
    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


#: The DAG files the tests run: real modules (linted and type-checked), one per DAG or family.
DAG_FILES = Path(__file__).resolve().parent / "dags"


def copy_dag_file(module: str, folder: Path, data: Any = None) -> Path:
    """Copy ``tests/dags/<module>.py`` into ``folder`` and return the copy's path.

    ``data``, if given, is written first as ``<module>.json`` beside the copy, for a DAG file
    that reads it at parse time: every later parse of the copy (the dag processor's, that of
    ``dag.test()``) then sees the same data.
    """
    source = DAG_FILES / f"{module}.py"
    target = folder / source.name
    if data is not None:
        target.with_suffix(".json").write_text(json.dumps(data), encoding="utf-8")
    shutil.copyfile(source, target)
    return target


def load_test_dag(module: str, dag_id: str, *, data: Any = None) -> Any:
    """The DAG ``dag_id`` of ``tests/dags/<module>.py``, copied into the test dags folder (on
    Airflow 3, ``dag.test()`` re-parses that folder). See :func:`copy_dag_file` for ``data``.

    (Not named ``test_*``: pytest would collect it in every test module importing it.)
    """
    return load_dag(copy_dag_file(module, dags_dir(), data), dag_id)


def load_dag(path: Path, dag_id: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"test_dag_{dag_id}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for value in vars(module).values():
        if getattr(value, "dag_id", None) == dag_id and hasattr(value, "task_dict"):
            return value
    raise LookupError(f"{path} defines no DAG {dag_id!r}")


def example_dag(dag_id: str) -> Any:
    """An example DAG, from its copy in the test dags folder."""
    for path in sorted(dags_dir().glob("*.py")):
        if dag_id in path.read_text():
            try:
                return load_dag(path, dag_id)
            except LookupError:
                continue
    raise LookupError(f"no example DAG {dag_id!r} in {dags_dir()}")


def run_dag(
    dag: Any, *, logical_date: datetime | None = None, conf: dict[str, Any] | None = None
) -> DagRunResult:
    """Run every task of one DagRun in this process, as ``airflow dags test`` does."""
    logical_date = logical_date or datetime(2024, 9, 1, tzinfo=timezone.utc)
    if not AIRFLOW_V_3:
        # Airflow 2's dag.test() deletes an earlier run of the same date; the delete cascades
        # through dag_run_note, whose foreign key names the FAB user table, so SQLAlchemy
        # needs the FAB models loaded (the webserver always has them).
        import airflow.providers.fab.auth_manager.models  # noqa: F401
    if AIRFLOW_V_3:
        dag_run = dag.test(logical_date=logical_date, run_conf=conf)
    else:
        dag_run = dag.test(execution_date=logical_date, run_conf=conf)
    return collect(dag.dag_id, dag_run.run_id)


def collect(dag_id: str, run_id: str) -> DagRunResult:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        dag_run = session.query(DagRun).filter_by(dag_id=dag_id, run_id=run_id).one()
        tis = dag_run.get_task_instances(session=session)
        task_states = {(ti.task_id, ti.map_index): _state(ti.state) for ti in tis}
        try_numbers = {(ti.task_id, ti.map_index): ti.try_number for ti in tis}
        return DagRunResult(
            run_id=run_id,
            state=_state(dag_run.state) or "",
            task_states=task_states,
            xcoms=_xcoms(session, dag_id, run_id),
            try_numbers=try_numbers,
        )


def _state(state: Any) -> str | None:
    return None if state is None else str(getattr(state, "value", state))


def _xcoms(session: Any, dag_id: str, run_id: str) -> dict[tuple[str, int, str], Any]:
    if AIRFLOW_V_3:
        from airflow.models.xcom import XComModel
        from airflow.sdk.serde import deserialize

        # Read as the task SDK does (serde): XComModel.deserialize_value would json-decode a
        # pushed string such as "489.50" into a float.
        rows = session.scalars(XComModel.get_many(run_id=run_id, dag_ids=dag_id)).all()
        return {(r.task_id, r.map_index, r.key): deserialize(r.value) for r in rows}
    from airflow.models.xcom import XCom

    # Airflow 2 rows come back already deserialised (BaseXCom.init_on_load).
    rows = XCom.get_many(run_id=run_id, dag_ids=dag_id, session=session).all()
    return {(r.task_id, r.map_index, r.key): r.value for r in rows}
