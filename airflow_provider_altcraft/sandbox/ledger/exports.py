"""Exports: ``loyalty/transactions_export`` tasks, their progress and their CSV files."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from airflow_provider_altcraft.sandbox.ledger.core import LedgerCore
from airflow_provider_altcraft.sandbox.ledger.records import (
    E_TASK,
    E_TX,
    EXPORT_CSV_COLUMNS,
    PUBLISHED_FIELDS,
    fail,
)
from airflow_provider_altcraft.sandbox.seed import Profile, Program
from airflow_provider_altcraft.sandbox.values import ApiError, format_amount

__all__ = ["ExportTask", "Exports"]


@dataclass(slots=True)
class ExportTask:
    task_id: str
    program_id: int
    currency_eid: str
    created: float  # wall-clock epoch seconds
    delay: float
    mode: str  # "ok" | "fail" | "stuck", frozen when the task is created
    total: int
    files: list[str]  # CSV texts, each with the header; several with export_files > 1

    def status(self, now: float, pending: str = "processing") -> dict[str, Any]:
        elapsed = now - self.created
        if self.mode == "stuck":
            return {"status": pending, "progress": 0, "result": None}
        if elapsed < self.delay:
            progress = int(min(99.0, 100.0 * elapsed / self.delay)) if self.delay > 0 else 0
            return {"status": pending, "progress": progress, "result": None}
        if self.mode == "fail":
            return {
                "status": "failed",
                "progress": 100,
                "result": None,
                "error_text": "Export failed (sandbox export_mode=fail)",
            }
        urls = [f"/api/download/{self.task_id}/{name}" for name in self.file_names()]
        return {
            "status": "completed",
            "progress": 100,
            "result": {"urls": urls, "total": self.total, "errors": [], "type": "export"},
        }

    def file_names(self) -> list[str]:
        if len(self.files) == 1:
            return ["transactions.csv"]
        return [f"transactions-{i + 1}.csv" for i in range(len(self.files))]

    def state(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "program_id": self.program_id,
            "points_currency_eid": self.currency_eid,
            "created": self.created,
            "delay": self.delay,
            "mode": self.mode,
            "total": self.total,
            "files": self.files,
        }


class Exports(LedgerCore):
    """Export tasks: created from the transactions, polled, downloaded."""

    _tasks: dict[str, ExportTask]

    def _reset_indexes(self, programs: dict[int, Program], profiles: dict[str, Profile]) -> None:
        super()._reset_indexes(programs, profiles)
        self._tasks = {}

    def create_export(
        self,
        program_id: int,
        iid: int | None,
        eid: str | None,
        date_from: datetime,
        date_to: datetime,
        from_id: str | None,
        delay: float,
        mode: str,
        *,
        unpublished: bool = False,
        files: int = 1,
        amounts: Callable[[Decimal], str] = format_amount,
    ) -> str:
        with self._lock:
            self._expire_due()
            program = self._program(program_id)
            currency = self._currency(program, iid, eid, required=True)
            after_seq = 0
            if from_id is not None:
                anchor = self._txs.get(from_id)
                if anchor is None:
                    raise fail(E_TX)
                after_seq = anchor.seq
            columns = EXPORT_CSV_COLUMNS if unpublished else PUBLISHED_FIELDS
            rows = []
            for tx in self._txs.values():  # dict order == creation order
                if (
                    tx.program_id != program_id
                    or tx.currency_iid != currency.iid
                    or tx.seq <= after_seq
                    or not date_from <= tx.created_at <= date_to
                ):
                    continue
                wire = tx.wire(unpublished=True)
                wire["profile_id"] = tx.profile_id
                wire["points_currency_eid"] = tx.currency_eid
                for name in ("amount", "balance_before", "balance_after"):
                    wire[name] = amounts(getattr(tx, name))
                rows.append(["" if wire[c] is None else wire[c] for c in columns])
            # As many files as asked (no empty ones), the rows spread as evenly as possible.
            count = max(1, min(files, len(rows)))
            base, extra = divmod(len(rows), count)
            texts, start = [], 0
            for index in range(count):
                size = base + (1 if index < extra else 0)
                buffer = io.StringIO()
                writer = csv.writer(buffer)  # RFC 4180 quoting, CRLF line ends
                writer.writerow(columns)
                writer.writerows(rows[start : start + size])
                texts.append(buffer.getvalue())
                start += size
            task = ExportTask(
                str(uuid.uuid4()), program_id, currency.eid, time.time(), delay, mode, len(rows),
                texts,
            )  # fmt: skip
            self._tasks[task.task_id] = task
            self.version += 1
            return task.task_id

    def task_status(self, task_id: str, pending: str = "processing") -> dict[str, Any]:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                raise fail(E_TASK)
            return task.status(time.time(), pending)

    def download(self, task_id: str, name: str) -> bytes:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                raise fail(E_TASK)
            if task.status(time.time())["status"] != "completed":
                raise ApiError(409, "Task is not completed")
            names = task.file_names()
            if name not in names:
                raise ApiError(404, "File not found")
            return task.files[names.index(name)].encode("utf-8")
