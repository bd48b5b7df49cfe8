"""``AltcraftExportTaskSensor``: waits for an Altcraft task started elsewhere (an export).

For DAGs that start the export in another task (or outside Airflow) and only need to know
when its file is ready. Pokes ``tasks/status``, or waits in the triggerer with
``deferrable=True``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_altcraft.compat import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    Context,
    PokeReturnValue,
    conf,
)
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.operators.base import AltcraftTaskMixin
from airflow_provider_altcraft.triggers.altcraft import AltcraftExportTaskTrigger, task_event
from airflow_provider_altcraft.validation import parse_optional_str

__all__ = ["AltcraftExportTaskSensor"]


class AltcraftExportTaskSensor(AltcraftTaskMixin, BaseSensorOperator):
    """Succeeds when Altcraft task ``export_task_id`` has completed; fails if it failed.

    :param export_task_id: the Altcraft task id (templated), e.g. the ``export_task_id`` XCom
        of an export operator or the ``task_id`` that ``loyalty/transactions_export`` returned.
    :param altcraft_conn_id: the Airflow connection (type ``altcraft``), templated; default
        ``altcraft_default``.
    :param deferrable: wait in the triggerer instead of occupying a worker slot. Default:
        Airflow's ``[operators] default_deferrable`` (False unless configured).

    ``timeout``, ``poke_interval``, ``mode`` and ``soft_fail`` are the usual sensor arguments
    (a timeout while deferred is a sensor timeout too). The XCom is
    ``{"status": "completed", "task_id", "urls", "total"}``: the file URLs to download.
    """

    # The hook, the argument checks and fail-without-retry on a bad argument come from
    # AltcraftTaskMixin; the waiting from BaseSensorOperator (the only BaseOperator here).
    template_fields: Sequence[str] = ("altcraft_conn_id", "export_task_id")
    ui_color = "#f0e4ff"

    def __init__(
        self,
        *,
        export_task_id: str,
        altcraft_conn_id: str = AltcraftHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.altcraft_conn_id = altcraft_conn_id
        self.export_task_id = export_task_id
        self.deferrable = deferrable
        self.check_arguments_at_parse_time()

    def build(self, values: Mapping[str, Any]) -> str:
        task_id = parse_optional_str(values["export_task_id"], "export_task_id")
        if task_id is None:
            raise AltcraftValidationError(
                "export_task_id", "is missing", "pass the Altcraft task id"
            )
        return task_id

    def execute(self, context: Context) -> Any:
        """Poke (``deferrable=False``) or defer to :class:`AltcraftExportTaskTrigger`.

        :param context: the task's context.
        """
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=AltcraftExportTaskTrigger(
                self.build_for_execute(),
                altcraft_conn_id=self.altcraft_conn_id,
                poll_interval=float(self.poke_interval),
                deadline=time.time() + float(self.timeout),
            ),
            method_name="execute_complete",
        )

    def poke(self, context: Context) -> PokeReturnValue | bool:
        """One ``tasks/status`` read: done (with the XCom) when the task completed or failed.

        :param context: the task's context.
        """
        task_id: str = self.build_for_execute()
        status = self.hook.get_task_status(task_id)
        if status.is_completed or status.is_failed:
            event = task_event(task_id, status)
            return PokeReturnValue(is_done=True, xcom_value=self._outcome(event))
        self.log.info(
            "Altcraft task %s is %s (progress %s)", task_id, status.status, status.progress
        )
        return False

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: the XCom, or the failure its event reports.

        :param context: the task's context.
        :param event: the trigger's event (see :func:`task_event`).
        """
        if event.get("status") == "timeout":
            # A sensor timeout, as in poke mode: soft_fail turns it into a skip
            # (BaseSensorOperator.resume_execution), and it is not retried.
            raise AirflowSensorTimeout(
                f"Altcraft task {event.get('task_id')} did not complete within the sensor "
                f"timeout of {float(self.timeout):g} s"
            )
        return self._outcome(event)

    @staticmethod
    def _outcome(event: Mapping[str, Any]) -> dict[str, Any]:
        """The XCom of a completed task; a failed task or an error fails the sensor."""
        if event.get("status") == "completed":
            return dict(event)
        if event.get("status") == "failed":
            # The same task id can never succeed later: no point in a retry.
            raise AirflowFailException(
                f"Altcraft task {event.get('task_id')} failed: {event.get('message')}"
            )
        raise AirflowException(  # e.g. Altcraft unreachable: a retry may help
            f"Waiting for Altcraft task {event.get('task_id')} failed: {event.get('message')}"
        )
