"""Sending a batch's rows: a thread pool over one hook, each row exactly once, the member's
transactions read once for every lookup, and a progress record that lets a retry resume.

Usable without Airflow (the benchmarks and the chaos test call :func:`send_rows` directly).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from airflow_provider_altcraft.batch.progress import BatchProgress, row_digest
from airflow_provider_altcraft.batch.results import RowResult
from airflow_provider_altcraft.batch.rows import PreparedRow
from airflow_provider_altcraft.exceptions import (
    AltcraftAuthError,
    AltcraftError,
    AltcraftOutcomeUnknownError,
)
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import eid_holder

if TYPE_CHECKING:
    from airflow_provider_altcraft.models import AccountTransaction, PointsRequest

__all__ = ["EID_INDEX_MEMBERS", "EidIndex", "send_rows"]

#: Members whose transaction eids are kept for lookups (least recently used are dropped).
EID_INDEX_MEMBERS = 4096


class EidIndex:
    """The transaction eids already in Altcraft, per member, read once per member.

    Altcraft has no lookup by eid: ``find_transaction_by_eid`` pages through the member's
    transactions (100 a request). Looking up every row that way would cost
    rows x pages requests; this costs pages per *member*, shared by all of that member's rows.
    Only eids that existed when the member was first read are seen, which is all a check for
    earlier runs needs (this run sends each eid once).
    """

    def __init__(self, hook: AltcraftHook, max_members: int = EID_INDEX_MEMBERS) -> None:
        self._hook = hook
        self._max_members = max_members
        self._lock = threading.Lock()
        self._members: OrderedDict[tuple[Any, ...], Future[dict[str, list[AccountTransaction]]]] = (
            OrderedDict()
        )

    def find(self, request: PointsRequest) -> str | None:
        """The transaction_id holding ``request``'s eid, or None.

        Raises :class:`AltcraftEidSettledError` when that transaction was rolled back,
        cancelled or expired, as the hook's own lookup does.
        """
        key = (
            request.loyalty_program_id,
            request.matching,
            request.points_currency_iid,
            request.points_currency_eid,
        )
        with self._lock:
            entry = self._members.get(key)
            builder = entry is None
            if entry is None:
                entry = self._members[key] = Future()
                if len(self._members) > self._max_members:
                    self._members.popitem(last=False)
            else:
                self._members.move_to_end(key)
        if builder:
            try:
                entry.set_result(self._read_member(request))
            except BaseException as exc:
                with self._lock:
                    self._members.pop(key, None)  # let a later row try again
                entry.set_exception(exc)
        eid = request.transaction_eid
        assert eid is not None
        holder = eid_holder(eid, entry.result().get(eid, []))
        return None if holder is None else holder.transaction_id

    def _read_member(self, request: PointsRequest) -> dict[str, list[AccountTransaction]]:
        by_eid: dict[str, list[AccountTransaction]] = {}
        for transaction in self._hook.iter_account_transactions(
            loyalty_program_id=request.loyalty_program_id,
            matching=request.matching,
            points_currency_iid=request.points_currency_iid,
            points_currency_eid=request.points_currency_eid,
        ):
            if transaction.transaction_eid:
                by_eid.setdefault(transaction.transaction_eid, []).append(transaction)
        return by_eid


def send_rows(
    hook: AltcraftHook,
    rows: Iterator[PreparedRow],
    *,
    concurrency: int,
    check_existing: bool | None,
    on_result: Callable[[RowResult], None],
    on_tick: Callable[[], None] | None = None,
    tick_seconds: float = 10.0,
    progress: BatchProgress | None = None,
) -> None:
    """Send every row exactly once with ``concurrency`` threads over one hook.

    ``check_existing``: True looks every eid up, False none, None only rows whose eid came
    from the input. ``on_result`` is called under a lock (one row at a time); ``on_tick``
    every ``tick_seconds`` from the calling thread. An authentication error stops the batch
    (every other row would fail the same way) and is raised.

    ``progress``: a durable record (:mod:`~airflow_provider_altcraft.batch_progress`). Rows
    it holds as done are reported ``already_present`` without a request; with
    ``check_existing=None`` rows it says may have been sent are looked up; every result is
    recorded, and no row is handed out before the record's mark covers it.
    """
    import queue
    from concurrent.futures import ThreadPoolExecutor, wait

    hook.session  # noqa: B018  # create the shared session before the threads race for it
    hook.limit_in_flight(concurrency)
    # Twice the places: a worker sleeping out its row's backoff holds no place in flight.
    workers_count = 2 * concurrency
    index = EidIndex(hook)
    # Rows are read in the calling thread (a DB-API cursor must stay in the thread that
    # opened it) and handed over through a short queue: memory stays flat.
    handoff: queue.Queue[PreparedRow | None] = queue.Queue(maxsize=2 * concurrency)
    result_lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def send_one(row: PreparedRow) -> RowResult:
        request = row.request
        common = (row.row_number, row.row_key, request.transaction_eid, request.operation)
        look_up = row.eid_may_exist if check_existing is None else check_existing
        try:
            if look_up and (existing := index.find(request)) is not None:
                return RowResult(*common, request.amount, "already_present", existing)
            sent = hook.send_points_request_once(request, check_existing=False)
        except AltcraftAuthError:
            raise  # every other row would fail the same way: stop the batch
        except AltcraftOutcomeUnknownError as exc:
            return RowResult(*common, request.amount, "unknown", error=str(exc))
        except AltcraftError as exc:
            return RowResult(*common, request.amount, "failed", error=str(exc))
        status = "already_present" if sent.already_existed else "sent"
        return RowResult(*common, request.amount, status, sent.transaction_id)

    def worker() -> None:
        while (row := handoff.get()) is not None:
            if stop.is_set():
                continue  # drain, so the reader never blocks on a full queue
            try:
                result = send_one(row)
            except BaseException as exc:
                errors.append(exc)
                stop.set()
                continue
            with result_lock:
                if progress is not None:
                    progress.record(
                        result.row_number, result.transaction_eid, result.status,
                        result.transaction_id, row_digest(row.request),
                    )  # fmt: skip
                on_result(result)

    next_tick = time.monotonic() + tick_seconds

    def tick() -> None:
        nonlocal next_tick
        if progress is not None:
            progress.flush_if_due()
        if on_tick is not None and time.monotonic() >= next_tick:
            next_tick = time.monotonic() + tick_seconds
            on_tick()

    def idle() -> bool:
        """While the reader waits for the progress window: True = stop waiting."""
        tick()
        return stop.is_set()

    def hand_over(item: PreparedRow | None) -> None:
        while True:
            try:
                handoff.put(item, timeout=min(tick_seconds, 0.5))
                return
            except queue.Full:
                tick()

    with ThreadPoolExecutor(workers_count, thread_name_prefix="altcraft-batch") as pool:
        workers = [pool.submit(worker) for _ in range(workers_count)]
        try:
            for row in rows:
                if stop.is_set():
                    break
                if progress is not None:
                    resumed = _resume(progress, row, check_existing)
                    if isinstance(resumed, RowResult):
                        with result_lock:
                            on_result(resumed)  # done by an earlier try: no request
                        tick()
                        continue
                    row = resumed
                    if not progress.before_issue(row.row_number, idle):
                        break
                hand_over(row)
                tick()
        except BaseException:
            stop.set()  # e.g. the task is being killed: the workers drop the queued rows
            raise
        finally:
            for _ in workers:
                hand_over(None)
            while wait(workers, timeout=min(tick_seconds, 0.5)).not_done:
                tick()
    if progress is not None:
        progress.flush()
    if on_tick is not None:
        on_tick()
    if errors:
        raise errors[0]


def _resume(
    progress: BatchProgress, row: PreparedRow, check_existing: bool | None
) -> PreparedRow | RowResult:
    """A row as an earlier try left it: its result if it is done, else the row (marked for a
    lookup when it may have been sent and ``check_existing`` leaves that to the record)."""
    request = row.request
    if check_existing is not True:
        found = progress.recorded(row.row_number, request.transaction_eid, row_digest(request))
        if found is not None:
            return RowResult(
                row.row_number, row.row_key, request.transaction_eid, request.operation,
                request.amount, "already_present", found.transaction_id,
            )  # fmt: skip
    if check_existing is None and not row.eid_may_exist and progress.must_look_up(row.row_number):
        return dataclasses.replace(row, eid_may_exist=True)
    return row
