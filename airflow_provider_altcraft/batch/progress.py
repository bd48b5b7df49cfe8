"""A batch's durable progress record: resume a crashed batch without re-reading the world.

Without it, a retried batch task cannot tell which rows its crashed try sent, so it looks
every row's eid up (Altcraft has no lookup by eid: each distinct member's transaction list is
read). The record makes that bounded:

* every finished row is appended as one line (row number, eid, status, transaction id);
* a **high-water mark** ``H`` says: no row numbered ``H`` or more was ever handed to a
  sending thread. It is written and fsync'd *before* the first row at or past the old mark
  is handed out, so a row beyond the durable mark is provably never sent;
* the mark only moves to ``r + room`` where ``room = window - rows handed out whose result
  is not yet durable``: at any moment, the rows below the durable mark without a durable
  result number at most ``window``.

The next try (on any worker that sees the same path) then skips rows recorded as done (no
request at all), looks up only rows below the mark without a durable result — at most
``window`` after a crash, plus rows an earlier try itself reported failed or unknown — and
sends the rows at or past the mark without any lookup.

One try writes the record at a time (an exclusive ``flock``; a killed process's lock goes
with it). Results are flushed in groups (every :data:`FLUSH_SECONDS` or when the mark must
move), so a lost group costs lookups on the next try, never a duplicate. Only the standard
library is used.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_WINDOW", "BatchProgress", "ProgressLocked", "RecordedRow", "row_digest"]

#: Rows that may be in flight without a durable result (the bound on lookups after a crash).
DEFAULT_WINDOW = 1000
#: Longest a finished row's result waits before it is made durable.
FLUSH_SECONDS = 0.5
#: How long a try waits for an earlier try (still running somewhere) to release the record.
LOCK_WAIT_SECONDS = 30.0
FORMAT = 1
#: Statuses that mean "in the ledger": such a row is never sent or looked up again.
DONE = frozenset({"sent", "already_present"})


class ProgressLocked(RuntimeError):
    """Another try holds the record (it may still be sending)."""


@dataclasses.dataclass(frozen=True)
class RecordedRow:
    eid: str
    status: str
    transaction_id: str | None
    digest: str | None = None


def row_digest(request: object) -> str:
    """A short digest of everything a row's request says (member, amount, eid, constants): a
    recorded row is skipped only if the row now read is the very same request (a source that
    reads back in another order, or an edited file, is not mistaken for done)."""
    import hashlib

    return hashlib.sha256(repr(request).encode()).hexdigest()[:16]


class BatchProgress:
    """The record of one batch task instance, opened by each try.

    :param path: the record file (shared by every worker that may run a try).
    :param fingerprint: what makes row numbers mean the same rows (task instance, input,
        slice, operation); a record with another fingerprint is not trusted.
    :param window: rows allowed below the mark without a durable result.
    :param resume: read what earlier tries recorded (a retry); False starts a new record.
    """

    def __init__(self, path: str, *, fingerprint: str, window: int, resume: bool) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.path = path
        self.window = window
        self.fingerprint = fingerprint
        #: Rows an earlier try left done (row number -> what it recorded).
        self.done: dict[int, RecordedRow] = {}
        #: Rows an earlier try finished without getting them into the ledger (failed/unknown).
        self.unresolved: set[int] = set()
        #: The durable mark read from earlier tries (0: nothing was ever handed out).
        self.earlier_mark = 0
        #: Whether an earlier try's record was found and matches (False: nothing is known).
        self.resumed = False
        self.skipped = 0
        self.looked_up = 0
        self.fsyncs = 0
        self._mark = 0
        self._issued: set[int] = set()  # handed out, result not durable yet
        self._buffer: list[tuple[int, str]] = []  # (row, line) finished, not written yet
        self._lock = threading.Condition()
        self._last_flush = time.monotonic()
        self._fd = self._open(resume)

    # -- opening --------------------------------------------------------------------------------

    def _open(self, resume: bool) -> int:
        import fcntl

        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.path, flags, 0o600)
        try:
            deadline = time.monotonic() + LOCK_WAIT_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise ProgressLocked(
                            f"the progress record {self.path} is held by another try of this "
                            "task (still running?); not sending anything alongside it"
                        ) from None
                    time.sleep(0.2)
            if resume and self._read(fd):
                self.resumed = True
                self._mark = self.earlier_mark
            else:
                self._start(fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _start(self, fd: int) -> None:
        os.ftruncate(fd, 0)
        header = {"altcraft_batch_progress": FORMAT, "fingerprint": self.fingerprint}
        os.write(fd, (json.dumps(header) + "\n").encode())
        os.fsync(fd)
        directory = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        try:
            os.fsync(directory)  # the file's own name is durable too
        finally:
            os.close(directory)
        self.fsyncs += 1

    def _read(self, fd: int) -> bool:
        """Load an earlier try's record; False if there is none or it is not this batch's."""
        size = os.fstat(fd).st_size
        if size == 0:
            return False
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while len(data) < size:
            chunk = os.read(fd, size - len(data))
            if not chunk:
                break
            data += chunk
        # A line cut short by the crash was never acknowledged: drop it, so appends stay lines.
        end = data.rfind(b"\n") + 1
        if end < len(data):
            os.ftruncate(fd, end)
            data = data[:end]
        lines = data.splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
        except ValueError:
            return False
        if not isinstance(header, dict) or header.get("fingerprint") != self.fingerprint:
            return False
        for line in lines[1:]:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            if "h" in entry:
                self.earlier_mark = max(self.earlier_mark, int(entry["h"]))
            elif "r" in entry:
                row = int(entry["r"])
                status = str(entry.get("s"))
                if status in DONE:
                    self.done[row] = RecordedRow(
                        str(entry.get("e")), status, entry.get("t"), entry.get("d")
                    )
                    self.unresolved.discard(row)
                elif row not in self.done:
                    self.unresolved.add(row)
        os.lseek(fd, 0, os.SEEK_END)
        return True

    # -- deciding -------------------------------------------------------------------------------

    def recorded(
        self, row_number: int, eid: str | None, digest: str | None = None
    ) -> RecordedRow | None:
        """What an earlier try recorded for this row if it is done (same eid, and the same
        request when both digests are known), else None."""
        found = self.done.get(row_number)
        if found is None or found.eid != eid:
            return None
        if digest is not None and found.digest is not None and found.digest != digest:
            return None
        self.skipped += 1
        return found

    def must_look_up(self, row_number: int) -> bool:
        """Whether the row may have reached Altcraft in an earlier try: below the durable
        mark without a durable "done" (a row at or past the mark was never sent)."""
        if not self.resumed:
            return False
        maybe = row_number < self.earlier_mark or row_number in self.unresolved
        if maybe:
            self.looked_up += 1
        return maybe

    # -- recording ------------------------------------------------------------------------------

    def before_issue(self, row_number: int, idle: Callable[[], bool]) -> bool:
        """Call before handing a row to a sending thread. Moves the durable mark past it
        first when needed, waiting (``idle()`` is called meanwhile; True = give up) until
        fewer than ``window`` rows handed out lack a durable result. False = gave up."""
        with self._lock:
            if row_number < self._mark:
                self._issued.add(row_number)
                return True
        while True:
            self.flush()
            with self._lock:
                room = self.window - len(self._issued)
                if room > 0:
                    mark = row_number + room
                    self._write([json.dumps({"h": mark})])
                    self._mark = mark
                    self._issued.add(row_number)
                    return True
                self._lock.wait(0.05)
            if idle():
                return False

    def record(
        self, row_number: int, eid: str | None, status: str, txid: str | None,
        digest: str | None = None,
    ) -> None:  # fmt: skip
        """A row's result (any thread); made durable by the next flush."""
        entry = {"r": row_number, "e": eid, "s": status, "t": txid}
        if digest is not None:
            entry["d"] = digest
        line = json.dumps(entry)
        with self._lock:
            self._buffer.append((row_number, line))
            self._lock.notify_all()

    def flush_if_due(self) -> None:
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write and fsync the finished rows; they then no longer count against the window."""
        with self._lock:
            self._last_flush = time.monotonic()
            if not self._buffer:
                return
            batch, self._buffer = self._buffer, []
            self._write([line for _, line in batch])
            for row, _ in batch:
                self._issued.discard(row)

    def _write(self, lines: list[str]) -> None:
        payload = ("\n".join(lines) + "\n").encode()
        view = memoryview(payload)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)
        self.fsyncs += 1

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)  # releases the lock
            self._fd = -1

    def stats(self) -> dict[str, Any]:
        return {
            "resumed": self.resumed,
            "skipped_done": self.skipped,
            "looked_up": self.looked_up,
            "earlier_mark": self.earlier_mark,
            "fsyncs": self.fsyncs,
        }
