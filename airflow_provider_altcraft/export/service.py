"""The export service: start ``loyalty/transactions_export``, wait for ``tasks/status``, and
download and assemble the files into one checked CSV for a period.

Used by the export operator (which can also wait deferred, in the triggerer) and by the
reconcile operator's own export. Starting an export changes nothing in Altcraft, so a retried
task simply starts a new one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_altcraft.compat import AirflowException, Context
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.export.csv_reader import ExportFormatError
from airflow_provider_altcraft.export.files import AssembledExport, assemble_export
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.periods import Period
from airflow_provider_altcraft.triggers.altcraft import (
    seconds_until_next_poll,
    task_event,
)
from airflow_provider_altcraft.validation import currency_payload, parse_positive_int

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
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
    currency = currency_payload(
        values.get("points_currency_iid"), values.get("points_currency_eid")
    )
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
