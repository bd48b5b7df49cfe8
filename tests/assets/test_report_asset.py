"""The export and reconcile tasks declare their files as outlet Assets (Datasets on Airflow 2)
and put the path, the period and the counts on each event; the consumer example DAG reads
them.

The runs are real: the daily reconcile example (after the backfill example put the day's
adjustments into the sandbox) emits its report's event into the metadata DB, read back here
through Airflow's own models; then the consumer example runs and returns what it read. Under
``dag.test()`` nothing schedules the consumer, so it is run by hand, and reads the asset's
latest event (a scheduled run reads the events that triggered it); what the scheduler would
use to start it, the queue row of the consumer's asset, is checked too.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.compat import AIRFLOW_V_3, Asset
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.operators.export import (
    AltcraftExportTransactionsOperator,
    export_asset,
)
from airflow_provider_altcraft.operators.reconcile import (
    AltcraftReconcileTransactionsOperator,
    reconcile_report_asset,
)
from tests.conftest import TOKEN
from tests.dagrun import example_dag, run_dag
from tests.export.ledger import run_covering

REPORT_URI = "altcraft://reconcile-reports/altcraft_reconcile_daily/reconcile"
CONSUMER = "altcraft_reconcile_report_consumer"


def asset_events(uri: str) -> list[dict[str, Any]]:
    """The events of the asset ``uri`` in the metadata DB: their extra and source task."""
    from airflow.utils.session import create_session

    if AIRFLOW_V_3:
        from airflow.models.asset import AssetEvent as Event
        from airflow.models.asset import AssetModel as Model

        asset_id = Event.asset_id
    else:
        from airflow.models.dataset import DatasetEvent as Event
        from airflow.models.dataset import DatasetModel as Model

        asset_id = Event.dataset_id
    with create_session() as session:
        rows = (
            session.query(Event)
            .join(Model, asset_id == Model.id)
            .filter(Model.uri == uri)
            .order_by(Event.timestamp)
            .all()
        )
        return [
            {"extra": dict(row.extra or {}), "dag_id": row.source_dag_id,
             "task_id": row.source_task_id}
            for row in rows
        ]  # fmt: skip


def queued_consumers(uri: str) -> set[str]:
    """The DAGs the scheduler is to start for the asset ``uri`` (its run queue)."""
    from airflow.utils.session import create_session

    if AIRFLOW_V_3:
        from airflow.models.asset import AssetDagRunQueue as Queue
        from airflow.models.asset import AssetModel as Model

        asset_id = Queue.asset_id
    else:
        from airflow.models.dataset import DatasetDagRunQueue as Queue
        from airflow.models.dataset import DatasetModel as Model

        asset_id = Queue.dataset_id
    with create_session() as session:
        rows = session.query(Queue).join(Model, asset_id == Model.id).filter(Model.uri == uri)
        return {row.target_dag_id for row in rows}


def register(*dags: Any) -> None:
    """Write the DAGs and their assets to the metadata DB, as the dag processor does:
    ``dag.test()`` does it on Airflow 3, not on Airflow 2 (whose asset events need the
    asset's row, and whose queue needs the consumer's)."""
    if not AIRFLOW_V_3:
        from airflow.models.dag import DAG

        DAG.bulk_write_to_db(dags)


def unpause(dag_id: str) -> None:
    """As a user does in the UI: new DAGs start paused, and a paused DAG is not queued."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagModel).filter(DagModel.dag_id == dag_id).update({"is_paused": False})


def test_the_daily_report_event_reaches_the_consumer_example(
    airflow_db: Path, sandbox: Any, demo_warehouse: Path, tmp_path: Path
) -> None:
    consumer = example_dag(CONSUMER)
    daily_dag = example_dag("altcraft_reconcile_daily")
    register(consumer, daily_dag)
    # A first (manual) run registers the consumer and its schedule in the metadata DB, as
    # the dag processor would; the asset has no event yet, so the run fails.
    assert run_dag(consumer).state == "failed"
    unpause(CONSUMER)
    assert run_dag(example_dag("altcraft_backfill_adjustments"),
                   logical_date=run_covering("2024-09-02")).state == "success"  # fmt: skip
    before = len(asset_events(REPORT_URI))

    daily = run_dag(
        daily_dag,
        logical_date=run_covering("2024-09-02"),
        conf={"output_dir": str(tmp_path)},
    )

    assert daily.state == "success"
    events = asset_events(REPORT_URI)
    assert len(events) == before + 1
    event = events[-1]
    report = tmp_path / "2024-09-02" / "report.csv"
    assert (event["dag_id"], event["task_id"]) == ("altcraft_reconcile_daily", "reconcile")
    assert event["extra"] == {
        "path": str(report),
        "date_from": "2024-09-02T00:00:00Z",
        "date_to": "2024-09-03T00:00:00Z",
        "differences": 0,
        "missing_in_altcraft": 0,
        "missing_in_warehouse": 0,
        "amount_differs": 0,
        "type_differs": 0,
        "state_differs": 0,
        "altcraft_rows": 2,
        "warehouse_rows": 2,
        "matched": 2,
        "engine": daily.xcom("reconcile")["engine"],
    }
    assert report.exists()
    # The export's own asset (its path is templated too) got its event.
    (export_event,) = asset_events(export_asset("altcraft_reconcile_daily",
                                                "export_transactions").uri)[-1:]  # fmt: skip
    assert export_event["extra"]["rows"] == 2
    assert export_event["extra"]["path"] == str(tmp_path / "2024-09-02" / "transactions.csv")
    assert CONSUMER in queued_consumers(REPORT_URI)

    read = run_dag(consumer, logical_date=datetime(2024, 9, 3, 1, tzinfo=timezone.utc))

    assert read.state == "success"
    assert read.xcom("log_report") == event["extra"]
    assert TOKEN not in repr(events)


# -- the declared outlets (parse time) ----------------------------------------------------------


def _dag() -> Any:
    from airflow import DAG

    return DAG("assets_dag", schedule=None, start_date=datetime(2024, 9, 1, tzinfo=timezone.utc))


def _reconcile(**arguments: Any) -> AltcraftReconcileTransactionsOperator:
    given = {"warehouse_conn_id": "warehouse", "table": "tx", "export_path": "e.csv", **arguments}
    return AltcraftReconcileTransactionsOperator(task_id="reconcile", **given)


def test_a_static_report_path_is_its_own_asset(tmp_path: Path) -> None:
    with _dag():
        local = _reconcile(report_path=str(tmp_path / "report.csv"))
        remote = AltcraftReconcileTransactionsOperator(
            task_id="r2", warehouse_conn_id="warehouse", table="tx", export_path="e.csv",
            report_path="s3://aws_default@bucket/r/report.csv",
        )  # fmt: skip

    assert [a.uri for a in local.outlets] == [f"file://{tmp_path}/report.csv"]
    assert [a.uri for a in remote.outlets] == ["s3://bucket/r/report.csv"]


def test_a_templated_report_path_is_the_tasks_asset() -> None:
    with _dag():
        task = _reconcile(report_path="/data/{{ ds }}/report.csv")
        export = AltcraftExportTransactionsOperator(
            task_id="export", loyalty_program_id=1, points_currency_eid="stars",
            output_path="s3://bucket/{{ ds }}.csv",
        )  # fmt: skip

    assert task.outlets == [reconcile_report_asset("assets_dag", "reconcile")]
    assert task.outlets[0].uri == "altcraft://reconcile-reports/assets_dag/reconcile"
    assert export.outlets == [export_asset("assets_dag", "export")]


def test_a_given_asset_replaces_the_default_and_keeps_other_outlets(tmp_path: Path) -> None:
    other = Asset(uri="s3://bucket/other")
    with _dag():
        by_uri = _reconcile(report_path="/r.csv", report_asset="altcraft://reports/daily")
        by_asset = AltcraftReconcileTransactionsOperator(
            task_id="b", warehouse_conn_id="warehouse", table="tx", export_path="e.csv",
            report_path="/r.csv", report_asset=Asset(uri="s3://b/k"), outlets=[other],
        )  # fmt: skip

    assert [a.uri for a in by_uri.outlets] == ["altcraft://reports/daily"]
    assert by_asset.outlets == [other, Asset(uri="s3://b/k")]


@pytest.mark.parametrize("given", [42, ["s3://b/k"]])
def test_a_report_asset_that_is_no_asset_is_refused(given: Any) -> None:
    with _dag(), pytest.raises(AltcraftValidationError) as error:
        _reconcile(report_path="/r.csv", report_asset=given)
    assert str(error.value).startswith("report_asset: type ")
