"""The chaos harness: money-moving operations from many threads against a faulty sandbox that
is also killed (``kill -9``) and restarted in durable mode, then an audit of the ledger.

Shared by ``tests/chaos`` (bounded, in CI) and ``benchmarks/chaos.py`` (longer). Every
operation is driven as Airflow drives a task: try after try (the next one looks its eid up
first) until it reports an outcome, within a bounded number of tries. What each try reported
is recorded, and the audit holds the provider to its guarantees:

* no duplicate: no eid is in the ledger twice;
* nothing lost: every operation is in the ledger once, with the transaction id reported;
* no phantom: a try that failed with anything but "outcome unknown" applied nothing;
* no dangling hold: no temporary transaction is left held;
* every balance exact.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.exceptions import AltcraftError, AltcraftOutcomeUnknownError
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import Matching, PointsRequest
from airflow_provider_altcraft.sandbox import SandboxError, SandboxHandle, run_sandbox

TOKEN = "chaos-token-5f1e"
MEMBERS = 40
OPENING = Decimal("1000000")
REDEEM = "loyalty/redeeme_points"
ACCRUE = "loyalty/accrue_points"
LIST = "loyalty/account/transactions"
SETTLE = ["loyalty/commit_transaction", "loyalty/rollback_transaction"]
MONEY = [REDEEM, ACCRUE]


def seed() -> dict[str, Any]:
    return {
        "programs": [{"id": 1, "currencies": [{"iid": 1, "eid": "stars", "default": True}]}],
        "profiles": [{"profile_id": f"c-{i}"} for i in range(MEMBERS)],
        "members": [
            {"program_id": 1, "profile_id": f"c-{i}", "balances": {"stars": str(OPENING)}}
            for i in range(MEMBERS)
        ],
    }


def fault_rules(rate: float) -> list[dict[str, Any]]:
    """About ``rate`` of requests hit by a fault, of every kind the sandbox injects; a lost
    answer is often followed by a refused lookup (compound faults)."""
    share = rate / 6
    return [
        {"kind": "delay", "rate": 0.1, "delay_ms": 5},
        {"kind": "drop_after", "rate": share, "methods": MONEY + SETTLE},
        {"kind": "drop_before", "rate": share},
        {"kind": "malformed_after", "rate": share / 2, "methods": MONEY, "data": {}},
        {"kind": "http_500", "rate": share},
        {"kind": "http_503", "rate": share},
        {"kind": "http_429", "rate": share / 2},
        {"kind": "http_500", "rate": 0.3, "methods": [LIST]},  # lookups refused often
    ]


@dataclass
class Operation:
    """One intended money movement: what it should do, and what its tries reported."""

    eid: str
    kind: str  # "redeem" | "accrue" | "hold_commit" | "hold_rollback"
    member: str
    amount: Decimal
    transaction_id: str | None = None
    tries: list[str] = field(default_factory=list)  # "ok" | "unknown" | "error:<class>"
    phantoms: list[str] = field(default_factory=list)

    @property
    def moves(self) -> Decimal:
        """The member's balance change once it has fully happened."""
        if self.kind == "accrue":
            return self.amount
        return Decimal(0) if self.kind == "hold_rollback" else -self.amount


class Chaos:
    """A sandbox subprocess in durable mode on a fixed port, killable and restartable."""

    def __init__(self, workdir: Path) -> None:
        self.state = workdir / "state.json"
        self._stack = ExitStack()
        self.handle: SandboxHandle | None = None
        self.port = 0
        self.killed = False
        self._restarting = threading.Event()
        self.rules: list[dict[str, Any]] = []

    def set_faults(self, rules: list[dict[str, Any]]) -> None:
        """The fault rules, kept to be set again after a restart."""
        self.rules = rules
        assert self.handle is not None
        self.handle.set_faults(rules, seed=7)

    def start(self) -> SandboxHandle:
        first = self.handle is None
        self.handle = self._stack.enter_context(
            run_sandbox(
                token=TOKEN,
                seed=seed() if first else None,
                port=self.port,
                state_file=self.state,
                durable=True,
            )
        )
        self.port = int(self.handle.url.rsplit(":", 1)[1])
        return self.handle

    def kill_and_restart(self) -> None:
        """``kill -9`` the server mid-traffic, then start it again on its state file."""
        assert self.handle is not None and self.handle.pid is not None
        self._restarting.set()
        os.kill(self.handle.pid, signal.SIGKILL)
        time.sleep(1.0)  # clients meet a dead port, long enough to exhaust their retries
        self.start()
        self.set_faults(self.rules)
        self.killed = True
        self._restarting.clear()

    def control(self, call: Callable[[SandboxHandle], Any]) -> Any:
        """A control call that waits out a restart."""
        deadline = time.monotonic() + 30
        while True:
            try:
                assert self.handle is not None
                return call(self.handle)
            except (SandboxError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        self._stack.close()


@contextmanager
def chaos_sandbox(workdir: Path) -> Iterator[Chaos]:
    chaos = Chaos(workdir)
    try:
        chaos.start()
        yield chaos
    finally:
        chaos.close()


def connection(url: str) -> str:
    import json

    extra = {
        "backoff_base": 0.01, "backoff_max": 0.1, "retry_after_max": 0.5, "timeout": 5,
        "connect_timeout": 1, "max_retries": 3, "default_points_currency_eid": "stars",
    }  # fmt: skip
    return json.dumps({"conn_type": "altcraft", "host": url, "password": TOKEN, "extra": extra})


def plan(count: int, tag: str, rng: random.Random) -> list[Operation]:
    kinds = ["redeem", "redeem", "accrue", "hold_commit", "hold_rollback"]
    return [
        Operation(
            eid=f"{tag}-{n}",
            kind=rng.choice(kinds),
            member=f"c-{rng.randrange(MEMBERS)}",
            amount=Decimal(rng.randrange(1, 10_000)) / 100,
        )
        for n in range(count)
    ]


def _ledger_count(chaos: Chaos, eid: str) -> int:
    return len(chaos.control(lambda h: h.transactions(transaction_eid=eid)))


def drive(chaos: Chaos, hook: AltcraftHook, op: Operation, max_tries: int = 40) -> None:
    """Try ``op`` as Airflow tries a task, recording every try; phantoms are checked by
    counting the eid in the ledger around each try that fails."""
    request = PointsRequest.build(
        "accrue" if op.kind == "accrue" else "redeem",
        loyalty_program_id=1,
        amount=op.amount,
        matching=Matching.by_profile_id(op.member),
        transaction_eid=op.eid,
        points_currency_eid="stars",
        is_temp=op.kind.startswith("hold"),
        temp_timeout_sec=3600 if op.kind.startswith("hold") else None,
    )
    for attempt in range(1, max_tries + 1):
        before = _ledger_count(chaos, op.eid)
        try:
            result = hook.send_points_request_once(request, check_existing=attempt > 1)
        except AltcraftOutcomeUnknownError:
            op.tries.append("unknown")
        except AltcraftError as exc:
            op.tries.append(f"error:{type(exc).__name__}")
            if _ledger_count(chaos, op.eid) > before:
                op.phantoms.append(f"try {attempt}: {type(exc).__name__}: {exc}")
        else:
            op.tries.append("ok")
            op.transaction_id = result.transaction_id
            break
        time.sleep(0.02)
    if op.transaction_id is None or not op.kind.startswith("hold"):
        return
    settle = hook.commit_transaction if op.kind == "hold_commit" else hook.rollback_transaction
    for attempt in range(1, max_tries + 1):
        try:
            settle(transaction_id=op.transaction_id, retried=attempt > 1)
            return
        except AltcraftError:
            op.tries.append("settle-retry")
            time.sleep(0.02)
    op.tries.append("settle-gave-up")


def batch_rows(count: int, rng: random.Random) -> list[dict[str, str]]:
    """Batch rows redeeming from random members, each with its own eid."""
    return [
        {"profile_id": f"c-{rng.randrange(MEMBERS)}", "amount": f"{rng.randrange(1, 999)}.25",
         "transaction_eid": f"batch-{n}"}
        for n in range(count)
    ]  # fmt: skip


def settle_batch(
    hook: AltcraftHook, rows: list[dict[str, str]], passes: int
) -> list[dict[str, str]]:
    """Send ``rows`` through the batch, then pass again over the rows left unknown or failed
    (looking every one up first, as the task's retries do); returns the rows never settled."""
    from uuid import uuid4

    from airflow_provider_altcraft.batch.results import RowResult
    from airflow_provider_altcraft.batch.rows import RowSource, RowSpec, valid_rows, validate_rows
    from airflow_provider_altcraft.batch.sender import send_rows

    pending = rows
    for attempt in range(passes):
        spec = RowSpec(
            operation="redeem",
            constants={"loyalty_program_id": 1, "points_currency_eid": "stars"},
            column_mapping={},
            row_key_column=None,
            key_scope="chaos",
            position_namespace=uuid4(),
        )
        source = RowSource.build(rows=pending)
        validate_rows(source, spec, lambda problem: None)
        results: list[RowResult] = []
        send_rows(
            hook,
            valid_rows(source, spec),
            concurrency=8,
            check_existing=None if attempt == 0 else True,
            on_result=results.append,
        )
        unsettled = {r.transaction_eid for r in results if r.status in ("unknown", "failed")}
        pending = [row for row in rows if row["transaction_eid"] in unsettled]
        if not pending:
            break
    return pending


def run_threads(work: list[Callable[[], None]], threads: int) -> None:
    lock = threading.Lock()
    pending = list(reversed(work))
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                job = pending.pop()
            try:
                job()
            except BaseException as exc:  # recorded, re-raised after the join
                errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]


@dataclass
class Audit:
    operations: int
    duplicates: dict[str, int]
    lost: list[str]
    phantoms: list[str]
    dangling_holds: list[str]
    wrong_balances: dict[str, tuple[Decimal, Decimal]]
    unknown_tries: int
    failed_tries: int

    @property
    def clean(self) -> bool:
        return not (
            self.duplicates or self.lost or self.phantoms or self.dangling_holds
            or self.wrong_balances
        )  # fmt: skip


def audit(chaos: Chaos, operations: list[Operation], batch_rows: dict[str, tuple[str, Decimal]]
          ) -> Audit:  # fmt: skip
    """Compare the ledger with what every operation (and batch row: eid -> member, amount
    redeemed) should have done."""
    chaos.control(lambda h: h.clear_faults())
    ledger = chaos.control(lambda h: h.ledger())
    transactions = [t for t in ledger["transactions"] if t["transaction_eid"]]
    # A committed temporary accrual would leave two rows under one eid; the harness holds
    # only redemptions, committed in place, so one eid is one row.
    counts = Counter(t["transaction_eid"] for t in transactions)
    duplicates = {eid: n for eid, n in counts.items() if n > 1}
    by_eid = {t["transaction_eid"]: t for t in transactions}
    lost = [
        op.eid
        for op in operations
        if op.transaction_id is None
        or by_eid.get(op.eid, {}).get("transaction_id") != op.transaction_id
    ]
    lost += [eid for eid in batch_rows if eid not in by_eid]
    expected = {f"c-{i}": OPENING for i in range(MEMBERS)}
    for op in operations:
        expected[op.member] += op.moves
    for member, amount in batch_rows.values():
        expected[member] -= amount
    balances = {b["profile_id"]: b for b in ledger["balances"]}
    wrong = {
        member: (want, Decimal(balances[member]["total_balance"]))
        for member, want in expected.items()
        if Decimal(balances[member]["total_balance"]) != want
    }
    holds = [m for m, b in balances.items() if Decimal(b["held_balance"]) != 0]
    tries = [t for op in operations for t in op.tries]
    return Audit(
        operations=len(operations) + len(batch_rows),
        duplicates=duplicates,
        lost=lost,
        phantoms=[p for op in operations for p in op.phantoms],
        dangling_holds=holds,
        wrong_balances=wrong,
        unknown_tries=tries.count("unknown"),
        failed_tries=sum(t.startswith("error:") for t in tries),
    )
