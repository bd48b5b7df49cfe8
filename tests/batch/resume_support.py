"""Crash a batch for real and resume it: a subprocess sends rows with a durable progress record
and is SIGKILLed mid-way; the retry (another process, or this one) resumes from the record.

Also a measurement (docs/distributed.md), with its own sandbox::

    .venv/bin/python -m tests.batch.resume_support measure --rows 20000 --members 20000
    .venv/bin/python -m tests.batch.resume_support overhead --rows 5000 --members 5000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.batch.progress import BatchProgress
from airflow_provider_altcraft.batch.rows import PreparedRow, RowSpec

NAMESPACE = uuid.UUID("6b0f3c7e-9a51-4d8e-8f2a-3c1e5d7b9a10")
CONN_ID = "altcraft_resume"
TRANSACTIONS_PATH = "/api/v1.1/loyalty/account/transactions"
REDEEM_PATH = "/api/v1.1/loyalty/redeeme_points"


def seed(members: int) -> dict[str, Any]:
    return {
        "programs": [{"id": 1, "currencies": [{"iid": 1, "eid": "stars", "default": True}]}],
        "profiles": [
            {"profile_id": f"r-{i}", "email": f"r{i}@example.com"} for i in range(members)
        ],
        "members": [
            {"program_id": 1, "profile_id": f"r-{i}", "balances": {"stars": "1000000"}}
            for i in range(members)
        ],
    }


def use_connection(url: str, token: str) -> None:
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {
            "conn_type": "altcraft",
            "host": url,
            "password": token,
            "extra": {"backoff_base": 0.01, "backoff_max": 0.05, "timeout": 10},
        }
    )


def prepared_rows(count: int, members: int) -> Iterator[PreparedRow]:
    """Rows 1..count, row n for member n % members, eids from the row position (as a batch
    without a row key): a retry can only know what was sent from the record or a lookup."""
    spec = RowSpec(
        operation="redeem",
        constants={"loyalty_program_id": 1, "points_currency_eid": "stars"},
        column_mapping={},
        row_key_column=None,
        key_scope="resume\nbatch",
        position_namespace=NAMESPACE,
    )
    for n in range(1, count + 1):
        prepared = spec.prepare(n, {"email": f"r{n % members}@example.com", "amount": "1.00"})
        assert isinstance(prepared, PreparedRow)
        yield prepared


def eid_of(row_number: int) -> str:
    return str(uuid.uuid5(NAMESPACE, str(row_number)))


def send(
    *,
    count: int,
    members: int,
    progress_path: str | None,
    window: int,
    concurrency: int,
    resume: bool,
    check_existing: bool | None,
    hook: Any = None,
) -> dict[str, Any]:
    """One try of the batch; returns counts by status and the record's stats."""
    from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
    from airflow_provider_altcraft.operators.batch import RowResult, send_rows

    hook = hook or AltcraftHook(CONN_ID, pool_maxsize=concurrency)
    progress = None
    if progress_path is not None:
        progress = BatchProgress(
            progress_path, fingerprint="resume-test", window=window, resume=resume
        )
        if progress.resumed and check_existing is True:
            check_existing = None  # the record decides, as the operator does on a retry
    statuses: dict[str, int] = {}

    def on_result(result: RowResult) -> None:
        statuses[result.status] = statuses.get(result.status, 0) + 1

    started = time.monotonic()
    try:
        send_rows(
            hook,
            prepared_rows(count, members),
            concurrency=concurrency,
            check_existing=check_existing,
            on_result=on_result,
            progress=progress,
        )
    finally:
        if progress is not None:
            progress.close()
        hook.close()
    return {
        "statuses": statuses,
        "seconds": round(time.monotonic() - started, 2),
        "progress": None if progress is None else progress.stats(),
    }


def start_first_try(
    url: str, token: str, *, count: int, members: int, progress_path: str, window: int,
    concurrency: int,
) -> subprocess.Popen[bytes]:  # fmt: skip
    """The first try in its own process (to be killed with SIGKILL)."""
    args = [
        sys.executable, "-m", "tests.batch.resume_support", "first-try", "--url", url,
        "--token", token, "--rows", str(count), "--members", str(members), "--progress",
        progress_path, "--window", str(window), "--concurrency", str(concurrency),
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    return subprocess.Popen(args, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def recorded_rows(progress_path: str) -> int:
    """Result lines in the record so far (it is append-only)."""
    try:
        with open(progress_path, "rb") as data:
            return sum(1 for line in data if line.startswith(b'{"r"'))
    except FileNotFoundError:
        return 0


def kill_when_recorded(
    process: subprocess.Popen[bytes], progress_path: str, rows: int, timeout: float = 120.0
) -> None:
    deadline = time.monotonic() + timeout
    while recorded_rows(progress_path) < rows:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the first try ended before the kill: {stderr[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError("the first try made no progress")
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def ledger_eid_counts(sandbox: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for transaction in sandbox.ledger()["transactions"]:
        eid = transaction.get("transaction_eid")
        if eid:
            counts[eid] = counts.get(eid, 0) + 1
    return counts


def count_requests(sandbox: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in sandbox.requests():
        counts[entry["path"]] = counts.get(entry["path"], 0) + 1
    return counts


def measure(count: int, members: int, window: int, concurrency: int, delay_ms: int) -> None:
    """20,000 rows killed at ~50%, retried: today (every row looked up) vs the record."""
    import tempfile

    from airflow_provider_altcraft.sandbox import run_sandbox

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="altcraft-resume-"))
    token = "resume-token-4a7c9e"
    report: dict[str, Any] = {"rows": count, "members": members, "window": window,
                              "concurrency": concurrency, "delay_ms": delay_ms}  # fmt: skip
    with run_sandbox(token=token, seed=seed(members)) as sandbox:
        use_connection(sandbox.url, token)
        for mode in ("today", "record"):
            sandbox.load_seed(seed(members))
            sandbox.set_faults([{"kind": "delay", "rate": 1.0, "delay_ms": delay_ms}])
            work = tempfile.mkdtemp(prefix="altcraft-resume-")
            path = os.path.join(work, "batch.progress")
            first = start_first_try(sandbox.url, token, count=count, members=members,
                                    progress_path=path, window=window,
                                    concurrency=concurrency)  # fmt: skip
            kill_when_recorded(first, path, count // 2)
            before = sum(ledger_eid_counts(sandbox).values())
            sandbox.clear_requests()
            outcome = send(
                count=count, members=members,
                progress_path=path if mode == "record" else None,
                window=window, concurrency=concurrency, resume=True, check_existing=True,
            )  # fmt: skip
            requests = count_requests(sandbox)
            eids = ledger_eid_counts(sandbox)
            report[mode] = {
                "in_ledger_at_kill": before,
                "retry_seconds": outcome["seconds"],
                "lookup_requests": requests.get(TRANSACTIONS_PATH, 0),
                "redeem_requests": requests.get(REDEEM_PATH, 0),
                "statuses": outcome["statuses"],
                "progress": outcome["progress"],
                "ledger_exact": len(eids) == count
                and all(eids.get(eid_of(n)) == 1 for n in range(1, count + 1)),
            }
            print(json.dumps({mode: report[mode]}), flush=True)
    print(json.dumps(report, indent=2))


def overhead(count: int, members: int, window: int, concurrency: int, delay_ms: int) -> None:
    """A first try's rows/s without and with the record (2 rounds, alternating)."""
    import tempfile

    from airflow_provider_altcraft.sandbox import run_sandbox

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="altcraft-resume-"))
    token = "resume-token-4a7c9e"
    rates: dict[str, list[int]] = {"without": [], "with": []}
    with run_sandbox(token=token, seed=seed(members)) as sandbox:
        use_connection(sandbox.url, token)
        for _ in range(2):
            for mode in ("without", "with"):
                sandbox.load_seed(seed(members))
                sandbox.set_faults([{"kind": "delay", "rate": 1.0, "delay_ms": delay_ms}])
                path = os.path.join(tempfile.mkdtemp(), "batch.progress")
                outcome = send(
                    count=count, members=members,
                    progress_path=path if mode == "with" else None, window=window,
                    concurrency=concurrency, resume=False, check_existing=None,
                )  # fmt: skip
                rates[mode].append(round(count / outcome["seconds"]))
                print(mode, json.dumps(outcome), flush=True)
    print(json.dumps({"rows_per_sec": rates}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("first-try", "measure", "overhead"))
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--members", type=int, default=20000)
    parser.add_argument("--progress")
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--delay-ms", type=int, default=25)
    args = parser.parse_args()
    if args.mode in ("measure", "overhead"):
        run = measure if args.mode == "measure" else overhead
        run(args.rows, args.members, args.window, args.concurrency, args.delay_ms)
        return
    use_connection(args.url, args.token)
    send(count=args.rows, members=args.members, progress_path=args.progress,
         window=args.window, concurrency=args.concurrency, resume=False,
         check_existing=None)  # fmt: skip


if __name__ == "__main__":
    main()
