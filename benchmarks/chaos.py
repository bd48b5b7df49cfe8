"""The chaos test, longer: more operations, several kills, a chosen fault rate.

    python benchmarks/chaos.py [--operations 10000] [--rows 5000] [--rate 0.2] [--kills 3]

Drives hook operations from 8 threads and batch passes against a durable sandbox that is
killed with SIGKILL and restarted --kills times, then prints the audit (tests/chaos/harness.py):
duplicates, lost, phantoms, dangling holds and wrong balances must all be zero.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from decimal import Decimal
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="altcraft-chaos-airflow-"))

from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from tests.chaos.harness import (
    audit,
    batch_rows,
    chaos_sandbox,
    connection,
    drive,
    fault_rules,
    plan,
    run_threads,
    settle_batch,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(2026)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir, chaos_sandbox(Path(workdir)) as chaos:
        assert chaos.handle is not None
        os.environ["AIRFLOW_CONN_ALTCRAFT_CHAOS"] = connection(chaos.handle.url)
        chaos.set_faults(fault_rules(args.rate))
        hook = AltcraftHook("altcraft_chaos", pool_maxsize=8)
        operations = plan(args.operations, "hook", rng)
        killers = [
            threading.Timer(5.0 * (k + 1), chaos.kill_and_restart) for k in range(args.kills)
        ]
        for killer in killers:
            killer.start()
        run_threads([partial(drive, chaos, hook, op) for op in operations], threads=8)
        for killer in killers:
            killer.join()
        rows = batch_rows(args.rows, rng)
        pending = settle_batch(hook, rows, passes=20)
        report = audit(
            chaos,
            operations,
            {row["transaction_eid"]: (row["profile_id"], Decimal(row["amount"])) for row in rows},
        )
    print(f"operations {report.operations}, {time.monotonic() - started:.0f} s, "
          f"{args.kills} kills, fault rate {args.rate:.0%}")  # fmt: skip
    print(f"tries: {report.unknown_tries} outcome unknown, {report.failed_tries} plain errors")
    for name in ("duplicates", "lost", "phantoms", "dangling_holds", "wrong_balances"):
        print(f"  {name:<16} {len(getattr(report, name))}")
    print("CLEAN" if report.clean and not pending else "NOT CLEAN")
    sys.exit(0 if report.clean and not pending else 1)


if __name__ == "__main__":
    main()
