"""``AltcraftExportTaskTrigger``: waits in the triggerer for an Altcraft task (an export).

It only polls ``tasks/status``; the task that deferred downloads the file when it resumes.
The synchronous hook runs in a worker thread (``asyncio.to_thread``): one HTTP
implementation for everything, and Airflow 3 ships no aiohttp. Every outcome, errors
included, is folded into the single :class:`TriggerEvent` it yields, so the resumed task can
always fail with a clear message instead of the triggerer logging a traceback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import TaskStatus

__all__ = ["AltcraftExportTaskTrigger", "seconds_until_next_poll", "task_event"]


def task_event(
    task_id: str,
    status: TaskStatus | None,
    *,
    timed_out: bool = False,
    error: str | None = None,
) -> dict[str, Any]:
    """The event payload for a finished wait: a final status, a timeout or an error.

    Shared by the trigger and the non-deferrable waits, so both end the same way.

    :param task_id: the Altcraft task id.
    :param status: its final status (None for a timeout or an error).
    :param timed_out: the wait reached its deadline.
    :param error: why the wait failed (e.g. Altcraft unreachable).
    """
    if error is not None:
        return {"status": "error", "task_id": task_id, "message": error}
    if timed_out:
        return {"status": "timeout", "task_id": task_id}
    assert status is not None
    if status.is_completed:
        return {
            "status": "completed",
            "task_id": task_id,
            "urls": list(status.urls),
            "total": status.total,
        }
    return {
        "status": "failed",
        "task_id": task_id,
        "message": status.error_text
        or (f"errors: {status.errors[:5]!r}" if status.errors else None)
        or f"task status is {status.status!r}",
    }


def seconds_until_next_poll(poll_interval: float, deadline: float | None) -> float:
    """Sleep no longer than the deadline, so a timeout is reported on time.

    :param poll_interval: seconds between two polls.
    :param deadline: wall-clock epoch seconds when the wait ends; None: never.
    """
    if deadline is None:
        return poll_interval
    return max(0.0, min(poll_interval, deadline - time.time()))


class AltcraftExportTaskTrigger(BaseTrigger):
    """Fires when Altcraft task ``export_task_id`` has completed or failed, or at ``deadline``.

    :param export_task_id: the Altcraft task (e.g. from ``loyalty/transactions_export``).
    :param altcraft_conn_id: the Altcraft connection.
    :param poll_interval: seconds between two ``tasks/status`` calls.
    :param deadline: wall-clock epoch seconds after which the wait ends with a ``timeout``
        event; None waits forever.
    """

    def __init__(
        self,
        export_task_id: str,
        altcraft_conn_id: str = AltcraftHook.default_conn_name,
        poll_interval: float = 5.0,
        deadline: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.export_task_id = export_task_id
        self.altcraft_conn_id = altcraft_conn_id
        self.poll_interval = poll_interval
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The trigger's class path and constructor arguments (for the triggerer)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "export_task_id": self.export_task_id,
                "altcraft_conn_id": self.altcraft_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll ``tasks/status`` until the task ends or the deadline passes; one event."""
        hook = AltcraftHook(altcraft_conn_id=self.altcraft_conn_id)
        try:
            while True:
                status = await asyncio.to_thread(hook.get_task_status, self.export_task_id)
                if status.is_completed or status.is_failed:
                    yield TriggerEvent(  # type: ignore[no-untyped-call]
                        task_event(self.export_task_id, status)
                    )
                    return
                if self.deadline is not None and time.time() >= self.deadline:
                    yield TriggerEvent(  # type: ignore[no-untyped-call]
                        task_event(self.export_task_id, None, timed_out=True)
                    )
                    return
                self.log.info(
                    "Altcraft task %s is %s (progress %s)",
                    self.export_task_id, status.status, status.progress,
                )  # fmt: skip
                await asyncio.sleep(seconds_until_next_poll(self.poll_interval, self.deadline))
        except Exception as exc:  # folded into the event: the task reports it
            yield TriggerEvent(  # type: ignore[no-untyped-call]
                task_event(self.export_task_id, None, error=f"{type(exc).__name__}: {exc}")
            )
        finally:
            hook.close()
