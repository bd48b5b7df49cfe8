"""The optional state file: the sandbox's state survives a restart.

Default mode: the snapshot is written atomically (temporary file + ``os.replace``) so a crash
never leaves half a file, and debounced by the server loop (at most every ~0.5 s, only after a
change) so that a burst of requests costs one write. A crash (``kill -9``, power loss) loses
the writes of the last ~0.5 s.

Durable mode (``StateFile(path, durable=True)``, ``--durable``): an append-only journal next
to the snapshot (``<state file>.journal``) gets one JSON line per API write (the records the
write created or changed: transactions, a member, an export task), written and ``fdatasync``'d
*before* the answer is sent. Lines are written in groups (group commit): while one group is
being synced, the answers of the next requests wait and are synced together, so concurrent
clients share the cost of a sync. At start the journal is replayed over the snapshot (records
replace those with the same key, so replaying twice is harmless); the snapshot is rewritten and
the journal restarted (compaction) at start, when the journal exceeds
:data:`JOURNAL_COMPACT_BYTES`, after a state-changing control call (reset, seed, config) and at
shutdown. A generation number in both files tells a journal that is already inside the snapshot
(a crash between writing the snapshot and restarting the journal) from one that is not.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow_provider_altcraft.sandbox.config import SandboxConfig
    from airflow_provider_altcraft.sandbox.ledger import Ledger

__all__ = [
    "JOURNAL_COMPACT_BYTES",
    "JOURNAL_FORMAT",
    "STATE_FORMAT",
    "Journal",
    "Persisted",
    "StateFile",
    "journal_record",
]


class Persisted(Protocol):
    """What the state file saves and restores (what :class:`~.app.SandboxApp` provides): this
    module never imports the application, which imports it."""

    ledger: Ledger
    config: SandboxConfig
    startup_config: SandboxConfig  # a loaded file's config is applied over it
    reset_seed: dict[str, Any] | None


STATE_FORMAT = "altcraft-sandbox-state/1"
JOURNAL_FORMAT = "altcraft-sandbox-journal/1"
JOURNAL_COMPACT_BYTES = 8 * 1024 * 1024

# API methods that change the ledger, and so write a journal line in durable mode.
_POSTS = ("loyalty/redeeme_points", "loyalty/accrue_points")
_SETTLES = (
    "loyalty/commit_transaction",
    "loyalty/rollback_transaction",
    "loyalty/cancel_transaction",
)


def _sync(fd: int) -> None:
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:  # pragma: no cover - macOS, Windows
        os.fsync(fd)


def _sync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; a no-op where directories can't open)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems without directory sync
        pass
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes, *, sync: bool) -> None:
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                _sync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync:
        _sync_dir(directory)


# ---------------------------------------------------------------------- journal records
def journal_record(
    ledger: Ledger, method: str, body: dict[str, Any], answer: dict[str, Any]
) -> dict[str, Any] | None:
    """The journal line of a successful API call, or None when the call writes nothing.

    Records are full images (the state file's own form) of what the call created or changed,
    so replaying a line is idempotent (read by ``Ledger.records``).
    """
    data = answer.get("data")
    if method in _POSTS or method in _SETTLES:
        assert isinstance(data, dict)
        return ledger.records(transactions=[data["transaction_id"]])
    if method == "loyalty/transactions_export":
        assert isinstance(data, dict)
        return ledger.records(tasks=[data["task_id"]])
    if method in ("loyalty/register_member", "loyalty/delete_member"):
        key = (int(body["loyalty_program_id"]), str(answer["profile_id"]))
        return ledger.records(members=[key])
    return None


def _replay(ledger_state: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply journal records to a ledger state (``Ledger.to_state`` form)."""
    txs = {t["transaction_id"]: t for t in ledger_state.get("transactions", [])}
    tasks = {t["task_id"]: t for t in ledger_state.get("tasks", [])}
    members = {(m["program_id"], m["profile_id"]): m for m in ledger_state.get("members", [])}
    for record in records:
        for tx in record.get("transactions", []):
            txs[tx["transaction_id"]] = tx  # an update keeps the original (creation) position
        for task in record.get("tasks", []):
            tasks[task["task_id"]] = task
        for member in record.get("members", []):
            members[(member["program_id"], member["profile_id"])] = member
        for program_id, profile_id in record.get("members_deleted", []):
            members.pop((program_id, profile_id), None)
    return {
        **ledger_state,
        "transactions": list(txs.values()),
        "tasks": list(tasks.values()),
        "members": list(members.values()),
    }


# ---------------------------------------------------------------------- the state file
class StateFile:
    def __init__(self, path: str | os.PathLike[str], *, durable: bool = False) -> None:
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.durable = durable
        self.generation = 0  # of the snapshot on disk; the journal must carry the same
        self._saved: tuple[int, int, int] | None = None
        self._journal_fd: int | None = None
        self.journal_bytes = 0

    @staticmethod
    def fingerprint(app: Persisted) -> tuple[int, int, int]:
        # The ledger bumps its version on each mutation; config/seed objects are replaced.
        return (app.ledger.version, id(app.config), id(app.reset_seed))

    def changed(self, app: Persisted) -> bool:
        return self.fingerprint(app) != self._saved

    # ------------------------------------------------------------------ loading
    def _read_journal(self) -> tuple[int, list[dict[str, Any]]] | None:
        """``(generation, records)`` of the journal file, or None when there is none.

        A last line without its newline (or not JSON) is a write cut by a crash: that write
        was never acknowledged, so it is ignored.
        """
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            return None
        lines = raw.split(b"\n")
        header: dict[str, Any] = json.loads(lines[0]) if lines[0] else {}
        if header.get("format") != JOURNAL_FORMAT:
            if len(lines) == 1:
                return None  # the header itself was cut: an empty journal
            raise ValueError(f"{self.journal_path}: not an altcraft-sandbox journal")
        records = []
        for line in lines[1:-1]:  # the last element follows the last newline
            try:
                records.append(json.loads(line))
            except ValueError:
                break
        return int(header["generation"]), records

    def load(self, app: Persisted) -> bool:
        """Load the file (and replay its journal) into ``app`` if it exists; returns whether
        it did."""
        doc: dict[str, Any] | None = None
        if self.path.exists():
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("format") != STATE_FORMAT:
                raise ValueError(f"{self.path}: not an altcraft-sandbox state file")
            self.generation = int(doc.get("generation", 0))
        journal = self._read_journal()
        records: list[dict[str, Any]] = []
        if journal is not None and journal[0] == self.generation:
            records = journal[1]
        if doc is None and not records:
            return False
        if doc is None:
            doc = self.document(app)
        if records:
            doc["ledger"] = _replay(doc["ledger"], records)
        app.reset_seed = doc.get("seed")
        app.ledger.load_state(doc["ledger"])
        app.config = app.startup_config.updated(doc.get("config", {}))
        self._saved = self.fingerprint(app)
        if records:
            self.save(app)  # fold the journal in: the next snapshot has a new generation
        return True

    # ------------------------------------------------------------------ snapshots
    def document(self, app: Persisted) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "generation": self.generation,
            "seed": app.reset_seed,
            "config": app.config.as_dict(),
            "ledger": app.ledger.to_state(),
        }

    def save_if_changed(self, app: Persisted) -> bool:
        if not self.changed(app):
            return False
        self.save(app)
        return True

    def save(self, app: Persisted) -> None:
        """Write the snapshot now (and, in durable mode, restart the journal)."""
        fingerprint = self.fingerprint(app)
        self.write_snapshot(self.document(app))
        self._saved = fingerprint

    def write_snapshot(self, doc: dict[str, Any]) -> None:
        """Write ``doc`` as the next generation; may run in a worker thread (no app access).

        Durable mode: the snapshot is synced before the old journal is dropped, and the new
        journal (empty, same generation) is synced before any line is appended to it.
        """
        generation = self.generation + 1
        data = json.dumps({**doc, "generation": generation}, separators=(",", ":"))
        _write_atomic(self.path, data.encode("utf-8"), sync=self.durable)
        self.generation = generation
        if not self.durable:
            self.journal_path.unlink(missing_ok=True)  # left by a durable run: now folded in
            return
        self.close_journal()
        header = json.dumps({"format": JOURNAL_FORMAT, "generation": generation}) + "\n"
        _write_atomic(self.journal_path, header.encode("utf-8"), sync=True)
        self._journal_fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND)
        self.journal_bytes = 0

    # ------------------------------------------------------------------ journal
    def append_journal(self, data: bytes) -> None:
        """Append complete lines and sync them (blocking: run it in a worker thread)."""
        if self._journal_fd is None:
            raise RuntimeError("the journal is not open (durable mode starts with a snapshot)")
        view = memoryview(data)
        while view:
            written = os.write(self._journal_fd, view)
            view = view[written:]
        _sync(self._journal_fd)
        self.journal_bytes += len(data)

    def close_journal(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None


class Journal:
    """Group commit of journal lines on the server's event loop (durable mode).

    :meth:`append` queues a line (called synchronously right after the write it records, so
    lines are in the order of the writes); :meth:`wait` returns once everything appended so far
    is on disk. One worker task writes queued lines in a thread, so the loop keeps accepting
    requests during a sync; :meth:`snapshot` asks the same worker for a compaction, so a
    snapshot and the journal never interleave.
    """

    def __init__(self, store: StateFile, app: Persisted) -> None:
        self.store = store
        self.app = app
        self.appended = 0  # lines appended so far
        self.durable = 0  # of which on disk (in the journal or in a snapshot)
        self._lines: list[bytes] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._snap_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._snaps_asked = 0  # snapshots asked for (each control change, a large journal)
        self._snaps_cut = 0  # of which the latest cut taken covers
        self._snaps_done = 0  # of which written
        self._task: asyncio.Task[None] | None = None
        self.failure: OSError | None = None  # once a write failed, every write fails

    @property
    def pending(self) -> bool:
        return self.durable < self.appended

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"  # ASCII: lone surrogates too
        self._lines.append(line.encode("utf-8"))
        self.appended += 1

    async def wait(self) -> None:
        """Until everything appended so far is durable (raises if writing it failed)."""
        if self.failure is not None:
            self.durable = self.appended  # this write fails; reads after it need not wait
            raise self.failure
        if not self.pending:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self.appended, future))
        self._kick()
        await future

    async def snapshot(self) -> None:
        """A compaction now (a control call changed the state): returns once a snapshot taken
        *after* this call is written (one in progress may predate the change)."""
        if self.failure is not None:
            raise self.failure
        self._snaps_asked += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._snap_waiters.append((self._snaps_asked, future))
        self._kick()
        await future

    async def close(self) -> None:
        """Finish queued work (shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    def _release(self, error: BaseException | None = None) -> None:
        def settle(
            waiters: list[tuple[int, asyncio.Future[None]]], done: int
        ) -> list[tuple[int, asyncio.Future[None]]]:
            keep = []
            for target, future in waiters:
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                elif target <= done:
                    future.set_result(None)
                else:
                    keep.append((target, future))
            return keep

        self._waiters = settle(self._waiters, self.durable)
        self._snap_waiters = settle(self._snap_waiters, self._snaps_done)

    async def _run(self) -> None:
        while self._lines or self._snaps_asked > self._snaps_cut:
            try:
                if self._snaps_asked > self._snaps_cut:
                    cut = self._snaps_cut = self._snaps_asked
                    # The cut is taken on the loop thread, which alone changes the state: every
                    # write appended so far is in it, so its queued lines are dropped.
                    doc = self.store.document(self.app)
                    upto, self._lines = self.appended, []
                    fingerprint = StateFile.fingerprint(self.app)
                    await asyncio.to_thread(self.store.write_snapshot, doc)
                    self.store._saved = fingerprint
                    self._snaps_done = cut
                else:
                    data, upto = b"".join(self._lines), self.appended
                    self._lines = []
                    await asyncio.to_thread(self.store.append_journal, data)
            except Exception as exc:  # e.g. disk full: the waiting requests fail, not the loop
                # What was lost can't be told apart any more: from now on every write fails.
                self.failure = OSError(f"durable state file not written: {exc!r}")
                print(f"altcraft-sandbox: {self.failure}", file=sys.stderr, flush=True)
                self._lines, self._snaps_cut = [], self._snaps_asked
                self.durable = self.appended  # failed, not pending: reads go on working
                self._release(self.failure)
                return
            self.durable = max(self.durable, upto)
            self._release()
            if self.store.journal_bytes >= JOURNAL_COMPACT_BYTES:
                self._snaps_asked += 1
        self._release()
