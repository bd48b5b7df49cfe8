"""Reconcile N transactions: the provider's engine against a plain in-memory comparison.

Generates, without HTTP, an export CSV (the sandbox's columns) and a SQLite warehouse table
holding the same N transactions with a few differences of every class, then reconciles them
in fresh subprocesses, one per run, so each peak RSS (``ru_maxrss``) is its own:

* ``engine``: what the reconcile operator does: the export CSV (``Reconciler.add_export``)
  and a streaming warehouse cursor into
  :class:`~airflow_provider_altcraft.reconciliation.Reconciler` (scratch SQLite on disk), the
  report written as CSV;
* ``dict``: the straightforward way: both sides loaded into Python dicts keyed by eid, then
  compared (Decimal amounts);
* ``pandas``: two DataFrames and an outer merge, only if pandas is installed.

Every method must find the same differences; the script checks that. It prints the median
time and peak memory of each, and their ratios to the engine (noisy shared machine: look at
the ratios, not the absolute figures).

    python benchmarks/reconcile_1m.py                  # 100,000 transactions, 3 runs each
    python benchmarks/reconcile_1m.py --million --repeat 1
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_altcraft.sandbox import EXPORT_CSV_COLUMNS as EXPORT_COLUMNS  # noqa: E402

DAY = date(2024, 9, 1)
#: Every this-many-th transaction gets one difference (cycling through the classes).
DIFFERENCE_EVERY = 1000


def generate(directory: Path, rows: int, seed: int = 7) -> dict[str, int]:
    """Write export.csv and warehouse.db; return the expected count per difference class."""
    rng = random.Random(seed)
    expected = dict.fromkeys(
        ("missing_in_altcraft", "missing_in_warehouse", "amount_differs", "state_differs"), 0
    )
    classes = list(expected)
    db = sqlite3.connect(directory / "warehouse.db")
    db.execute(
        "CREATE TABLE loyalty_transactions (transaction_id TEXT, transaction_eid TEXT, "
        "created_at TEXT, transaction_type TEXT, amount TEXT, status TEXT)"
    )
    with open(directory / "export.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        batch: list[tuple[str, ...]] = []
        for n in range(rows):
            tid = f"{rng.getrandbits(128):032x}"
            eid = f"order-{n}"
            created = f"{DAY.isoformat()}T{n % 24:02d}:{n % 60:02d}:{(n // 60) % 60:02d}Z"
            kind = "redeem" if n % 3 == 0 else "accrual"
            amount = f"{rng.randint(1, 100000) / 100:.2f}"
            state = "active"
            wh_amount, wh_state = amount, state
            difference = classes[(n // DIFFERENCE_EVERY) % 4] if n % DIFFERENCE_EVERY == 0 else None
            if difference:
                expected[difference] += 1
            if difference == "amount_differs":
                wh_amount = str(Decimal(amount) + Decimal("0.01"))
            elif difference == "state_differs":
                state = "cancelled"
            if difference != "missing_in_altcraft":
                writer.writerow(
                    [tid, eid, created, kind, amount, "0.00", amount, state, "p-1", "stars"]
                    + [""] * 4
                )
            if difference != "missing_in_warehouse":
                batch.append((tid, eid, created, kind, wh_amount, wh_state))
            if len(batch) >= 50_000:
                db.executemany("INSERT INTO loyalty_transactions VALUES (?,?,?,?,?,?)", batch)
                batch.clear()
        db.executemany("INSERT INTO loyalty_transactions VALUES (?,?,?,?,?,?)", batch)
    db.commit()
    db.close()
    return expected


# -- the methods (each runs in its own subprocess) ------------------------------------------------


def _warehouse_cursor(directory: Path) -> sqlite3.Cursor:
    db = sqlite3.connect(directory / "warehouse.db")
    return db.execute(
        "SELECT transaction_id, transaction_eid, amount, transaction_type, status, created_at "
        "FROM loyalty_transactions"
    )


def run_engine(directory: Path) -> dict[str, int]:
    from airflow_provider_altcraft.reconciliation import REPORT_COLUMNS, Reconciler

    counts: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory(dir=directory) as work,
        Reconciler(Path(work) / "reconcile.sqlite") as reconciler,
    ):
        reconciler.add_export(directory / "export.csv", (DAY, DAY))
        reconciler.add_warehouse(_warehouse_cursor(directory))
        reconciler.match()
        with open(directory / "report.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(REPORT_COLUMNS)
            for row in reconciler.differences():
                counts[str(row[0])] = counts.get(str(row[0]), 0) + 1
                writer.writerow(row)
    return counts


def run_dict(directory: Path) -> dict[str, int]:
    altcraft: dict[str, tuple[Decimal, str, str]] = {}
    with open(directory / "export.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            key = row["transaction_eid"] or row["transaction_id"]
            altcraft[key] = (Decimal(row["amount"]), row["transaction_type"], row["status"])
    warehouse: dict[str, tuple[Decimal, str, str]] = {}
    for tid, eid, amount, kind, status, _ in _warehouse_cursor(directory):
        warehouse[eid or tid] = (Decimal(amount), kind, status)
    counts: dict[str, int] = {}

    def count(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    for key, (amount, kind, status) in altcraft.items():
        other = warehouse.get(key)
        if other is None:
            count("missing_in_warehouse")
            continue
        if amount != other[0]:
            count("amount_differs")
        if kind != other[1]:
            count("type_differs")
        if status != other[2]:
            count("state_differs")
    for _ in warehouse.keys() - altcraft.keys():
        count("missing_in_altcraft")
    return counts


def run_pandas(directory: Path) -> dict[str, int]:
    import pandas as pd

    altcraft = pd.read_csv(directory / "export.csv", dtype=str, keep_default_na=False)
    warehouse = pd.read_sql_query(
        "SELECT transaction_eid, amount, transaction_type, status FROM loyalty_transactions",
        sqlite3.connect(directory / "warehouse.db"),
        dtype=str,
    )
    merged = altcraft[["transaction_eid", "amount", "transaction_type", "status"]].merge(
        warehouse, on="transaction_eid", how="outer", suffixes=("_a", "_w"), indicator=True
    )
    both = merged[merged["_merge"] == "both"]
    amounts_a = both["amount_a"].map(Decimal)
    amounts_w = both["amount_w"].map(Decimal)
    counts = {
        "missing_in_warehouse": int((merged["_merge"] == "left_only").sum()),
        "missing_in_altcraft": int((merged["_merge"] == "right_only").sum()),
        "amount_differs": int((amounts_a != amounts_w).sum()),
        "type_differs": int((both["transaction_type_a"] != both["transaction_type_w"]).sum()),
        "state_differs": int((both["status_a"] != both["status_w"]).sum()),
    }
    return {name: n for name, n in counts.items() if n}


METHODS = {"engine": run_engine, "dict": run_dict, "pandas": run_pandas}


def child(method: str, directory: Path) -> None:
    started = time.perf_counter()
    counts = METHODS[method](directory)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "counts": counts}))


def measure(method: str, directory: Path) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", method, "--dir", str(directory)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 transactions")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=sorted(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dir)
        return
    rows = 1_000_000 if args.million else args.rows
    try:
        import pandas  # noqa: F401

        methods = ["engine", "dict", "pandas"]
    except ImportError:
        methods = ["engine", "dict"]
    with tempfile.TemporaryDirectory(prefix="altcraft-reconcile-bench-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        expected = generate(directory, rows)
        print(f"{rows:,} transactions generated in {time.perf_counter() - started:.1f} s; "
              f"expected differences {expected}")  # fmt: skip
        results: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
        for _ in range(args.repeat):
            for method in methods:  # interleaved, so machine noise hits every method alike
                result = measure(method, directory)
                if result["counts"] != expected:
                    raise SystemExit(f"{method} found {result['counts']}, expected {expected}")
                results[method].append(result)
    base_time = statistics.median(r["seconds"] for r in results["engine"])
    base_mem = statistics.median(r["peak_mb"] for r in results["engine"])
    print(f"\nmedian of {args.repeat} run(s), each in a fresh process; ratio = method / engine")
    print(f"{'method':<8} {'time s':>9} {'ratio':>7} {'peak MB':>9} {'ratio':>7}")
    for method in methods:
        seconds = statistics.median(r["seconds"] for r in results[method])
        peak = statistics.median(r["peak_mb"] for r in results[method])
        print(
            f"{method:<8} {seconds:>9.2f} {seconds / base_time:>7.2f} "
            f"{peak:>9.1f} {peak / base_mem:>7.2f}"
        )


if __name__ == "__main__":
    main()
