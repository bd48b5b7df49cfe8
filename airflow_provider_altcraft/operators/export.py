"""``AltcraftExportTransactionsOperator``: export a period's points transactions to a CSV file.

Three steps: start ``loyalty/transactions_export``, wait until ``tasks/status`` says the task
has completed (in the triggerer when ``deferrable=True``, else by polling in the worker), then
stream the file to a local path or an object-storage URI (assembled and checked in a private
local file, then streamed up whole; see :mod:`airflow_provider_altcraft.storage`). Starting an
export changes nothing in Altcraft, so a retried task simply starts a new one.

The file is the task's outlet Asset (:mod:`airflow_provider_altcraft.export.assets`) and its
OpenLineage output (:mod:`airflow_provider_altcraft.export.lineage`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from airflow_provider_altcraft import storage
from airflow_provider_altcraft.compat import (
    Asset,
    Context,
    conf,
)
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.export import assets
from airflow_provider_altcraft.export.service import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    ExportRequest,
    build_export_request,
    check_wait_arguments,
    download_export,
    export_summary,
    export_to_file,
    parse_period,
    resolve_period,
    start_export,
    wait_for_task,
)
from airflow_provider_altcraft.operators.base import (
    AltcraftBaseOperator,
    check_path_argument,
    check_reachable,
    is_dynamic,
)
from airflow_provider_altcraft.periods import Period
from airflow_provider_altcraft.triggers.altcraft import AltcraftExportTaskTrigger

if TYPE_CHECKING:
    from airflow_provider_altcraft.storage import StoragePath

# The service's names stay importable from here (their home before export/service.py).
__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "AltcraftExportTransactionsOperator",
    "ExportRequest",
    "build_export_request",
    "check_wait_arguments",
    "download_export",
    "export_asset",
    "export_summary",
    "export_to_file",
    "parse_period",
    "resolve_period",
    "start_export",
    "wait_for_task",
]


def export_asset(dag_id: str, task_id: str) -> Asset:
    """The asset an export task emits when its ``output_path`` is templated and it is given no
    ``output_asset``: ``altcraft://exports/<dag_id>/<task_id>`` (subscribe with
    ``schedule=[export_asset("my_dag", "export")]``)."""
    return assets.task_asset(assets.EXPORT_KIND, dag_id, task_id)


class AltcraftExportTransactionsOperator(AltcraftBaseOperator):
    """Export a period's points transactions of one program and currency to a CSV file.

    :param loyalty_program_id: the loyalty program (a positive integer; templated).
    :param output_path: where to write the CSV (templated, e.g.
        ``"/data/altcraft/{{ ds }}.csv"``): a local path or an object-storage URI
        (``s3://aws_default@bucket/altcraft/{{ ds }}.csv``, ``gs://``, ``file://`` ... or an
        ``ObjectStoragePath``). Written complete or not at all: the file is assembled and
        checked in a private local file, then streamed to the URI; a failed export uploads
        nothing. Static paths are checked when the DAG is parsed (no network), templated ones
        before the export starts.
    :param points_currency_iid: the currency's iid; one of it and ``points_currency_eid``.
    :param points_currency_eid: the currency's eid (e.g. ``"stars"``); one of it and
        ``points_currency_iid`` is required (templated).
    :param date_from: start of the period (included): a date (its UTC midnight) or an aware
        datetime / RFC3339 string. Default: the run's data interval ``[start, end)`` (see
        :func:`~airflow_provider_altcraft.export.service.resolve_period`), so consecutive
        runs hold every transaction once.
    :param date_to: end of the period, with ``date_from``: a date is the last whole day
        included, a date-time is excluded.
    :param deferrable: wait in the triggerer (frees the worker slot) instead of polling.
        Default: Airflow's ``[operators] default_deferrable`` (False unless configured).
    :param poll_interval: seconds between two ``tasks/status`` calls.
    :param timeout: seconds to wait for the export before failing the task.
    :param output_asset: the outlet Asset (a Dataset on Airflow 2) whose event says the file
        is ready, or its URI. Default: the file's own URI when ``output_path`` is static
        (``file:///data/export.csv``, ``s3://bucket/key.csv``), else
        ``altcraft://exports/<dag_id>/<task_id>``. The event's ``extra`` holds the path, the
        period and the row count (see docs/assets.md).
    :param altcraft_conn_id: the Altcraft connection (default ``altcraft_default``).

    Returns ``{"path", "rows", "bytes", "date_from", "date_to", "dropped_at_bounds",
    "export_task_id"}`` (``path``: the path or URI as text, without a password).
    """

    template_fields: Sequence[str] = (
        "altcraft_conn_id",
        "loyalty_program_id",
        "points_currency_iid",
        "points_currency_eid",
        "date_from",
        "date_to",
        "output_path",
    )

    def __init__(
        self,
        *,
        loyalty_program_id: int | str,
        output_path: StoragePath,
        points_currency_iid: int | str | None = None,
        points_currency_eid: str | None = None,
        date_from: date | str | None = None,
        date_to: date | str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        output_asset: Asset | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.loyalty_program_id = loyalty_program_id
        self.output_path = output_path
        self.points_currency_iid = points_currency_iid
        self.points_currency_eid = points_currency_eid
        self.date_from = date_from
        self.date_to = date_to
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        check_wait_arguments(poll_interval, timeout)
        self.check_arguments_at_parse_time()
        self.output_asset = assets.outlet_asset(
            output_asset,
            "output_asset",
            path=output_path,
            path_is_static=not is_dynamic(output_path),
            kind=assets.EXPORT_KIND,
            dag_id=self.dag_id if self.has_dag() else None,  # type: ignore[no-untyped-call]
            task_id=self.task_id,
        )
        if self.output_asset is not None and self.output_asset not in self.outlets:
            self.outlets = [*self.outlets, self.output_asset]

    def build(self, values: Mapping[str, Any]) -> ExportRequest:
        path = values["output_path"]
        if path is None:
            raise AltcraftValidationError(
                "output_path",
                "is missing",
                "pass the local path or object-storage URI of the CSV to write",
            )
        check_path_argument(path, "output_path")
        storage.check_output(path, "output_path")
        return build_export_request(values)

    def check_static_rules(self, values: Mapping[str, Any]) -> None:
        path = values["output_path"]
        if path is not None and not is_dynamic(path):
            check_path_argument(path, "output_path")
            storage.check_output(path, "output_path")

    def execute(self, context: Context) -> dict[str, Any]:
        request: ExportRequest = self.build_for_execute()
        period = resolve_period(context, request.period)
        check_reachable(self.output_path, "output_path")
        task_id = start_export(self.hook, request, period, self.log)
        context["ti"].xcom_push(key="export_task_id", value=task_id)
        deadline = time.time() + self.timeout
        if self.deferrable:
            self.defer(
                trigger=AltcraftExportTaskTrigger(
                    task_id,
                    altcraft_conn_id=self.altcraft_conn_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                ),
                method_name="execute_complete",
            )
        event = wait_for_task(
            self.hook,
            task_id,
            poll_interval=self.poll_interval,
            deadline=deadline,
            log=self.log,
        )
        return self._finish(context, event, period)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: download the file, or fail with its reason."""
        # The period is computed again: same arguments and data interval, same dates.
        request: ExportRequest = self.build_for_execute()
        return self._finish(context, event, resolve_period(context, request.period))

    def _finish(self, context: Context, event: Mapping[str, Any], period: Period) -> dict[str, Any]:
        shown = storage.display(self.output_path)
        # Assembled in a private local file (the service's .part files and checks), then
        # streamed to a URI whole; a failed download uploads nothing.
        with storage.staged_output(self.output_path, "output_path") as local:
            written = download_export(self.hook, event, str(local), period, timeout=self.timeout)
        self.log.info(
            "Wrote %d transactions of %s (%d bytes) to %s",
            written.rows,
            period,
            written.size,
            shown,
        )
        summary = export_summary(shown, written, period, str(event["task_id"]))
        self._lineage_summary: dict[str, Any] | None = summary
        assets.record_event(
            context,
            self.output_asset,
            {key: summary[key] for key in ("path", "rows", "bytes", "date_from", "date_to")},
        )
        return summary

    # -- OpenLineage (called by the OpenLineage provider when it is installed) ----------------

    def get_openlineage_facets_on_start(self) -> Any:
        """Input: the Altcraft loyalty ledger; output: the export file (once rendered)."""
        from airflow_provider_altcraft.export.lineage import export_lineage

        path = self.output_path
        return export_lineage(
            base_url=self._lineage_base_url(),
            output_path=None if is_dynamic(path) else storage.display(path),
            summary=None,
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Input: the Altcraft loyalty ledger; output: the export file; run facet
        ``altcraft_export`` (rows, bytes, rows dropped at the bounds, the period)."""
        from airflow_provider_altcraft.export.lineage import export_lineage

        summary: dict[str, Any] | None = getattr(self, "_lineage_summary", None)
        path = self.output_path
        return export_lineage(
            base_url=self._lineage_base_url(),
            output_path=None if is_dynamic(path) else storage.display(path),
            summary=summary,
        )
