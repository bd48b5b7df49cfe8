"""What a batch reports: each row's result, the run's summary (the task's XCom), the per-row
results file, the progress log line, and the run's metrics."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from decimal import Decimal
from typing import IO, Any

from airflow_provider_altcraft import storage

__all__ = [
    "RESULT_COLUMNS",
    "BatchSummary",
    "Progress",
    "ResultsWriter",
    "RowResult",
    "report_metrics",
]

RESULT_COLUMNS = (
    "row", "row_key", "transaction_eid", "operation", "amount", "status", "transaction_id",
    "error",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class RowResult:
    row_number: int
    row_key: str | None
    transaction_eid: str | None
    operation: str | None
    amount: Decimal | None
    status: str  # sent | already_present | unknown | failed | invalid
    transaction_id: str | None = None
    error: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            "row": self.row_number,
            "row_key": self.row_key,
            "transaction_eid": self.transaction_eid,
            "operation": self.operation,
            "amount": None if self.amount is None else str(self.amount),
            "status": self.status,
            "transaction_id": self.transaction_id,
            "error": self.error,
        }


@dataclasses.dataclass
class BatchSummary:
    """Counts of one run; :meth:`to_xcom` is what the task returns."""

    rows: int = 0
    valid: int = 0
    sent: int = 0
    redeemed: int = 0
    accrued: int = 0
    already_present: int = 0
    #: Rows whose outcome is unknown (sent, answer lost, and the lookup could not tell): they
    #: may be in the ledger. Never "failed": the task fails so that its retry looks them up.
    unknown: int = 0
    unknown_amount: Decimal = Decimal(0)
    failed: int = 0
    skipped_invalid: int = 0
    total_redeemed: Decimal = Decimal(0)
    total_accrued: Decimal = Decimal(0)
    duration_sec: float = 0.0
    results_path: str | None = None
    #: Rows by (status, operation), and amounts sent by operation: the metrics' tags.
    by_status: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    amount_sent: dict[str, Decimal] = dataclasses.field(default_factory=dict)

    def add(self, result: RowResult) -> None:
        self.by_status[(result.status, result.operation or "")] += 1
        if result.status == "sent" and result.operation:
            self.amount_sent[result.operation] = self.amount_sent.get(
                result.operation, Decimal(0)
            ) + (result.amount or Decimal(0))
        if result.status == "unknown":
            self.unknown += 1
            self.unknown_amount += result.amount or Decimal(0)
            return
        if result.status == "failed":
            self.failed += 1
            return
        if result.status == "invalid":
            self.skipped_invalid += 1
            return
        if result.status == "already_present":
            self.already_present += 1
        else:
            self.sent += 1
            if result.operation == "redeem":
                self.redeemed += 1
            else:
                self.accrued += 1
        amount = result.amount or Decimal(0)
        if result.operation == "redeem":
            self.total_redeemed += amount
        else:
            self.total_accrued += amount

    @property
    def done(self) -> int:
        return self.sent + self.already_present + self.unknown + self.failed

    def to_xcom(self) -> dict[str, Any]:
        """JSON-safe: amounts as strings. ``total_amount`` = every amount in the ledger for
        these rows (sent now or already present), plus ``unknown_amount``: rows whose outcome
        is unknown may be there too, so the total is never lower than the ledger's."""
        return {
            "rows": self.rows,
            "sent": self.sent,
            "redeemed": self.redeemed,
            "accrued": self.accrued,
            "already_present": self.already_present,
            "unknown": self.unknown,
            "unknown_amount": str(self.unknown_amount),
            "failed": self.failed,
            "skipped_invalid": self.skipped_invalid,
            "total_amount": str(self.total_redeemed + self.total_accrued + self.unknown_amount),
            "total_redeemed": str(self.total_redeemed),
            "total_accrued": str(self.total_accrued),
            "duration_sec": round(self.duration_sec, 3),
            "results_path": self.results_path,
        }


#: Metric of each row status (``invalid`` rows are counted from the summary).
_STATUS_METRICS = {
    "sent": "batch.rows_sent",
    "already_present": "batch.rows_already_present",
    "unknown": "batch.rows_unknown",
    "failed": "batch.rows_failed",
}


def report_metrics(summary: BatchSummary, operation: str) -> None:
    """The run's metrics, sent once when it ends (failed runs too): rows by status and
    operation, the amounts sent, the amount whose outcome is unknown, the duration. Tags
    carry the operation only (``redeem``/``accrue``; ``by_sign`` for the invalid rows of a
    signed batch, whose operation was never read), never a row's key, eid or member."""
    from airflow_provider_altcraft import metrics

    for (status, row_operation), count in sorted(summary.by_status.items()):
        name = _STATUS_METRICS.get(status)
        if name is not None and count:
            metrics.incr(name, count, tags={"operation": row_operation or operation})
    if summary.skipped_invalid:
        metrics.incr("batch.rows_invalid", summary.skipped_invalid, tags={"operation": operation})
    if "redeem" in summary.amount_sent:
        metrics.gauge("batch.amount_redeemed", summary.amount_sent["redeem"])
    if "accrue" in summary.amount_sent:
        metrics.gauge("batch.amount_accrued", summary.amount_sent["accrue"])
    if summary.unknown:
        metrics.gauge("batch.unknown_amount", summary.unknown_amount, tags={"operation": operation})
    metrics.timing("batch.duration", summary.duration_sec, tags={"operation": operation})


class ResultsWriter:
    """Per-row results as CSV or JSON lines (chosen by the file name: .jsonl/.ndjson).

    The file holds row keys and eids of other people's money: it is created owner-only
    (0600), in directories created owner-only (0700), never through a symbolic link.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._jsonl = path.lower().endswith((".jsonl", ".ndjson"))
        self._file: IO[str] = storage.open_private(path, "w", encoding="utf-8", newline="")
        if self._jsonl:
            import json

            self._dumps = json.dumps
        else:
            import csv

            self._csv = csv.DictWriter(self._file, fieldnames=RESULT_COLUMNS)
            self._csv.writeheader()

    def write(self, result: RowResult) -> None:
        record = result.as_record()
        if self._jsonl:
            self._file.write(self._dumps(record) + "\n")
        else:
            self._csv.writerow(record)

    def close(self) -> None:
        self._file.close()


class Progress:
    """A log line at a steady cadence: rows done, rate, ETA (never row contents)."""

    def __init__(self, log: Any, total: int, summary: BatchSummary) -> None:
        self._log = log
        self._total = total
        self._summary = summary
        self._started = time.monotonic()

    def __call__(self) -> None:
        done = self._summary.done
        elapsed = time.monotonic() - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self._total - done) / rate if rate > 0 else float("inf")
        self._log.info(
            "Batch progress: %d/%d rows (%.0f%%), %.0f rows/s, ETA %.0f s; %d failed, %d unknown",
            done, self._total, 100.0 * done / max(self._total, 1), rate, eta, self._summary.failed,
            self._summary.unknown,
        )  # fmt: skip
