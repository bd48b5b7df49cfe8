"""``AltcraftExportTransactionsOperator``: export a period's points transactions to a CSV file.

Three steps: start ``loyalty/transactions_export``, wait until ``tasks/status`` says the task
has completed (in the triggerer when ``deferrable=True``, else by polling in the worker), then
stream the file to a local path. Starting an export changes nothing in Altcraft, so a retried
task simply starts a new one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from airflow_provider_altcraft.compat import Context, conf
from airflow_provider_altcraft.exceptions import AltcraftValidationError
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
from airflow_provider_altcraft.operators.base import AltcraftBaseOperator
from airflow_provider_altcraft.periods import Period
from airflow_provider_altcraft.triggers.altcraft import AltcraftExportTaskTrigger
from airflow_provider_altcraft.validation import check_output_path, parse_optional_str

# The service's names stay importable from here (their home before export/service.py).
__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "AltcraftExportTransactionsOperator",
    "ExportRequest",
    "build_export_request",
    "check_wait_arguments",
    "download_export",
    "export_summary",
    "export_to_file",
    "parse_period",
    "resolve_period",
    "start_export",
    "wait_for_task",
]


class AltcraftExportTransactionsOperator(AltcraftBaseOperator):
    """Export a period's points transactions of one program and currency to a local CSV.

    :param loyalty_program_id: the loyalty program.
    :param points_currency_eid: the currency's eid (or ``points_currency_iid``); required.
    :param output_path: where to write the CSV (templated, e.g.
        ``"/data/altcraft/{{ ds }}.csv"``); written complete or not at all.
    :param date_from: start of the period (included): a date (its UTC midnight) or an aware
        datetime / RFC3339 string; with ``date_to``, its end: a date is the last whole day
        included, a date-time is excluded. Default: the run's data interval ``[start, end)``
        (see :func:`resolve_period`), so consecutive runs hold every transaction once.
    :param deferrable: wait in the triggerer (frees the worker slot) instead of polling.
        Default: Airflow's ``[operators] default_deferrable`` (False unless configured).
    :param poll_interval: seconds between two ``tasks/status`` calls.
    :param timeout: seconds to wait for the export before failing the task.

    Returns ``{"path", "rows", "bytes", "date_from", "date_to", "export_task_id"}``.
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
        output_path: str,
        points_currency_iid: int | str | None = None,
        points_currency_eid: str | None = None,
        date_from: date | str | None = None,
        date_to: date | str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
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

    def build(self, values: Mapping[str, Any]) -> ExportRequest:
        if values["output_path"] is None:
            raise AltcraftValidationError(
                "output_path", "is missing", "pass the local path of the CSV to write"
            )
        parse_optional_str(values["output_path"], "output_path", max_length=4096)
        check_output_path(values["output_path"], "output_path")
        return build_export_request(values)

    def execute(self, context: Context) -> dict[str, Any]:
        request: ExportRequest = self.build_for_execute()
        period = resolve_period(context, request.period)
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
        return self._finish(event, period)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: download the file, or fail with its reason."""
        # The period is computed again: same arguments and data interval, same dates.
        request: ExportRequest = self.build_for_execute()
        return self._finish(event, resolve_period(context, request.period))

    def _finish(self, event: Mapping[str, Any], period: Period) -> dict[str, Any]:
        written = download_export(self.hook, event, self.output_path, period, timeout=self.timeout)
        self.log.info(
            "Wrote %d transactions of %s (%d bytes) to %s",
            written.rows, period, written.size, self.output_path,
        )  # fmt: skip
        return export_summary(self.output_path, written, period, str(event["task_id"]))
