"""``AltcraftExportTransactionsOperator``: export a period's points transactions to a CSV file.

Three steps: start ``loyalty/transactions_export``, wait until ``tasks/status`` says the task
has completed (in the triggerer when ``deferrable=True``, else by polling in the worker), then
stream the file to a local path. Starting an export changes nothing in Altcraft, so a retried
task simply starts a new one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_altcraft.compat import AirflowException, Context, conf
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.export_csv import ExportFormatError
from airflow_provider_altcraft.export_files import AssembledExport, assemble_export
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.operators.base import AltcraftBaseOperator, check_currency
from airflow_provider_altcraft.periods import Period
from airflow_provider_altcraft.triggers.altcraft import (
    AltcraftExportTaskTrigger,
    seconds_until_next_poll,
    task_event,
)
from airflow_provider_altcraft.validation import (
    check_output_path,
    parse_optional_str,
    parse_positive_int,
)

__all__ = [
    "AltcraftExportTransactionsOperator",
    "ExportRequest",
    "build_export_request",
    "export_to_file",
    "parse_period",
    "resolve_period",
]

DEFAULT_POLL_INTERVAL = 5.0
DEFAULT_TIMEOUT = 3600.0


class TaskLog(Protocol):
    """What the waits need of a logger (Airflow 3's task logger is not a logging.Logger)."""

    def info(self, msg: Any, /, *args: Any) -> object: ...


@dataclass(frozen=True)
class ExportRequest:
    """A validated export: program, currency, optional period (None = the data interval)."""

    loyalty_program_id: int
    currency: dict[str, Any]
    period: Period | None


def parse_period(values: Mapping[str, Any]) -> Period | None:
    """The period of ``date_from`` and ``date_to`` (see :meth:`Period.from_arguments`), both
    or neither (None: the data interval)."""
    date_from, date_to = values.get("date_from"), values.get("date_to")
    if (date_from is None) != (date_to is None):
        raise AltcraftValidationError(
            "date_from" if date_from is None else "date_to",
            "is missing while the other end of the period is given",
            "pass both date_from and date_to (dates are whole UTC days, a date-time date_to "
            "is excluded), or neither to use the run's data interval",
        )
    if date_from is None or date_to is None:
        return None
    return Period.from_arguments(date_from, date_to)


def build_export_request(values: Mapping[str, Any]) -> ExportRequest:
    """Check the export arguments; shared with the reconcile operator's own export."""
    currency = check_currency(values)
    if not currency:
        raise AltcraftValidationError(
            "points_currency_eid",
            "is missing (and so is points_currency_iid)",
            "an export covers one points currency: pass its eid (e.g. 'stars') or iid",
        )
    return ExportRequest(
        loyalty_program_id=parse_positive_int(values["loyalty_program_id"], "loyalty_program_id"),
        currency=currency,
        period=parse_period(values),
    )


def resolve_period(context: Context, period: Period | None) -> Period:
    """The given period, else the run's data interval ``[start, end)`` (see
    :meth:`Period.from_data_interval`): consecutive runs cover every transaction once."""
    if period is not None:
        return period
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is None or end is None:
        raise AltcraftValidationError(
            "date_from",
            "is not given and this run has no data interval",
            "pass date_from and date_to, or run the DAG on a schedule",
        )
    return Period.from_data_interval(start, end)


def wait_for_task(
    hook: AltcraftHook,
    task_id: str,
    *,
    poll_interval: float,
    deadline: float,
    log: TaskLog,
) -> dict[str, Any]:
    """Poll ``tasks/status`` in this process until the task ends or ``deadline`` passes.

    Returns the same event payload as :class:`AltcraftExportTaskTrigger`.
    """
    while True:
        status = hook.get_task_status(task_id)
        if status.is_completed or status.is_failed:
            return task_event(task_id, status)
        if time.time() >= deadline:
            return task_event(task_id, None, timed_out=True)
        log.info("Altcraft task %s is %s (progress %s)", task_id, status.status, status.progress)
        time.sleep(seconds_until_next_poll(poll_interval, deadline))


def download_export(
    hook: AltcraftHook,
    event: Mapping[str, Any],
    output_path: str,
    period: Period,
    *,
    timeout: float,
) -> AssembledExport:
    """Download every file of a finished export and assemble the period's rows at
    ``output_path`` (see :mod:`~airflow_provider_altcraft.export_files`).

    Raises :class:`AirflowException` with a clear message for a failed, timed-out or
    unreadable export, and when the files do not hold the rows Altcraft announced; then
    nothing is left at ``output_path``.
    """
    task_id = event.get("task_id")
    outcome = event.get("status")
    if outcome == "failed":
        raise AirflowException(f"Altcraft export task {task_id} failed: {event.get('message')}")
    if outcome == "timeout":
        raise AirflowException(
            f"Altcraft export task {task_id} did not complete within the timeout of "
            f"{timeout:g} s (it is still processing); raise `timeout` or check the export "
            "in Altcraft"
        )
    if outcome != "completed":
        raise AirflowException(
            f"Waiting for Altcraft export task {task_id} failed: {event.get('message')}"
        )
    path = Path(output_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    urls = list(event.get("urls") or [])
    parts = [path.with_name(f"{path.name}.part{i + 1}") for i in range(len(urls))]
    announced = event.get("total")
    try:
        for url, part in zip(urls, parts, strict=True):
            hook.download_file(url, part)
        return assemble_export(
            parts,
            path,
            period,
            announced_total=None if announced is None else int(announced),
            task_id=str(task_id),
        )
    except ExportFormatError as exc:
        raise AirflowException(str(exc)) from None
    finally:
        for part in parts:
            part.unlink(missing_ok=True)


def export_to_file(
    hook: AltcraftHook,
    request: ExportRequest,
    period: Period,
    output_path: str,
    *,
    poll_interval: float,
    timeout: float,
    log: TaskLog,
) -> dict[str, Any]:
    """Start an export, wait for it here (no deferral) and download it; returns the summary."""
    task_id = start_export(hook, request, period, log)
    event = wait_for_task(
        hook, task_id, poll_interval=poll_interval, deadline=time.time() + timeout, log=log
    )
    written = download_export(hook, event, output_path, period, timeout=timeout)
    return export_summary(output_path, written, period, task_id)


def start_export(hook: AltcraftHook, request: ExportRequest, period: Period, log: TaskLog) -> str:
    task_id = hook.start_transactions_export(
        loyalty_program_id=request.loyalty_program_id, period=period, **request.currency
    )
    log.info(
        "Started Altcraft export task %s: program %s, %s, period %s",
        task_id, request.loyalty_program_id, request.currency, period,
    )  # fmt: skip
    return task_id


def export_summary(
    path: str, written: AssembledExport, period: Period, task_id: str
) -> dict[str, Any]:
    """The XCom of an export: ``date_to`` is exclusive (the period is ``[date_from, date_to)``);
    ``dropped_at_bounds`` counts the rows Altcraft sent from outside it (created at its end)."""
    return {
        "path": str(path),
        "rows": written.rows,
        "bytes": written.size,
        **period.to_json(),
        "dropped_at_bounds": written.dropped,
        "export_task_id": task_id,
    }


def check_wait_arguments(poll_interval: float, timeout: float) -> None:
    for name, value in (("poll_interval", poll_interval), ("timeout", timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise AltcraftValidationError(
                name, f"{value!r} is not a positive number", "pass a number of seconds, e.g. 5"
            )


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
