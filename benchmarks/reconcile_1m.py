"""Reconcile N transactions: every engine of the provider side by side with the usual ways.

Generates, without HTTP, an export CSV (the fields the Altcraft guide publishes plus the
sandbox's optional status column, amounts unpadded as Altcraft writes them: ``100.1``) and a
warehouse table of the same N transactions (amounts as NUMERIC text, ``100.10``), with a few
differences of every class and a committed temporary accrual every 5,000 transactions (two
export rows, one warehouse row). Then reconciles them in fresh subprocesses, one per run, so
each peak RSS (``ru_maxrss``) is its own. Every method reads both sides, compares, and writes
the report; the script checks that all find the same differences.

* ``sqlite``: the provider's SQLite engine, the SQLite warehouse attached to it (what the
  operator does with ``engine="sqlite"`` and a SQLite warehouse);
* ``duckdb``: the DuckDB engine (its adaptive memory limit unless ``--memory-limit``), the
  SQLite warehouse's rows joined into CSV text in C and loaded by DuckDB in a second thread
  (what the operator does with ``engine="duckdb"`` or ``"auto"`` and a SQLite warehouse);
* ``duckdb-pg`` and ``sqlite-pg``: those engines with the PostgreSQL warehouse read through
  ``COPY ... TO STDOUT`` (only with ``--postgres``);
* ``pushdown``: the comparison inside PostgreSQL, the export copied in (only with
  ``--postgres``; the peak memory shown is the task's, not the server's);
* ``dict``: both sides in Python dicts keyed by eid, Decimal amounts;
* ``pandas``: two DataFrames and an outer merge (only if pandas is importable);
* ``duckdb-direct``: a hand-written DuckDB query (the export read natively, the warehouse's
  rows through Python into a CSV, a full outer join on DECIMAL(38, 2)), no memory limit.

    python benchmarks/reconcile_1m.py                      # 100,000 transactions, 3 runs each
    python benchmarks/reconcile_1m.py --million --repeat 1 --postgres
    python benchmarks/reconcile_1m.py --rows 10000000 --repeat 1 --methods duckdb
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_altcraft.sandbox.ledger import PUBLISHED_FIELDS  # noqa: E402

#: The transactions-list fields the guide publishes, then the sandbox's optional status.
EXPORT_COLUMNS = (*PUBLISHED_FIELDS, "status")
WAREHOUSE_SELECT = (
    "SELECT transaction_id, transaction_eid, amount, transaction_type, status, created_at "
    "FROM loyalty_transactions"
)
WAREHOUSE_COLUMNS = (
    "transaction_id",
    "transaction_eid",
    "amount",
    "transaction_type",
    "status",
    "created_at",
)
DAY = "2024-09-01"
#: Every this-many-th transaction gets one difference (cycling through the classes).
DIFFERENCE_EVERY = 1000
#: Every this-many-th transaction is a committed temporary accrual (two export rows).
TEMPORARY_EVERY = 5000
POSTGRES_URL = os.environ.get(
    "ALTCRAFT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PG_TABLE = "altcraft_bench_transactions"


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


PERIOD = Period(
    datetime(2024, 9, 1, tzinfo=timezone.utc), datetime(2024, 9, 2, tzinfo=timezone.utc)
)


def _plain(amount: Decimal) -> str:
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def generate(directory: Path, rows: int, postgres: bool) -> dict[str, int]:
    """Write export.csv, warehouse.csv and warehouse.db (and the PostgreSQL table); return
    the expected count per difference class."""
    expected = dict.fromkeys(
        ("missing_in_altcraft", "missing_in_warehouse", "amount_differs", "state_differs"), 0
    )
    classes = list(expected)
    tail = [""] * 9
    with (
        open(directory / "export.csv", "w", encoding="utf-8", newline="") as export_file,
        open(directory / "warehouse.csv", "w", encoding="utf-8", newline="") as warehouse_file,
    ):
        export = csv.writer(export_file)
        warehouse = csv.writer(warehouse_file)
        export.writerow(EXPORT_COLUMNS)
        warehouse.writerow(WAREHOUSE_COLUMNS)
        for n in range(rows):
            tid = str(100_000_000 + n)
            eid = f"order-{n}"
            created = f"{DAY}T{n % 24:02d}:{n % 60:02d}:{(n // 60) % 60:02d}Z"
            temporary = n % TEMPORARY_EVERY == 1
            kind = "redeem" if n % 3 == 0 and not temporary else "accrual"
            cents = (n * 7919) % 100_000 + 1
            amount = Decimal(cents).scaleb(-2)
            state = "active"
            wh_amount, wh_state = f"{amount:.2f}", state
            difference = classes[(n // DIFFERENCE_EVERY) % 4] if n % DIFFERENCE_EVERY == 0 else None
            if difference:
                expected[difference] += 1
            if difference == "amount_differs":
                wh_amount = f"{amount + Decimal('0.01'):.2f}"
            elif difference == "state_differs":
                state = "cancelled"
            if difference != "missing_in_altcraft":
                exported_at = created
                if temporary:
                    # The temporary row; its commit created the full one written next.
                    export.writerow(
                        [str(900_000_000 + n), eid, created, kind, _plain(amount), "0", "0",
                         *tail[:7], "replaced"]
                    )  # fmt: skip
                    exported_at = f"{DAY}T23:59:59Z"
                export.writerow(
                    [tid, eid, exported_at, kind, _plain(amount), "0", _plain(amount),
                     *tail[:7], state]
                )  # fmt: skip
            if difference != "missing_in_warehouse":
                warehouse.writerow([tid, eid, wh_amount, kind, wh_state, created])
    db = sqlite3.connect(directory / "warehouse.db")
    db.execute(
        "CREATE TABLE loyalty_transactions (transaction_id TEXT, transaction_eid TEXT, "
        "amount TEXT, transaction_type TEXT, status TEXT, created_at TEXT)"
    )
    with open(directory / "warehouse.csv", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        db.executemany("INSERT INTO loyalty_transactions VALUES (?,?,?,?,?,?)", reader)
    db.commit()
    db.close()
    if postgres:
        import psycopg2

        with psycopg2.connect(POSTGRES_URL) as pg, pg.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {PG_TABLE}")
            cursor.execute(
                f"CREATE TABLE {PG_TABLE} (transaction_id TEXT, transaction_eid TEXT, "
                "amount NUMERIC(12, 2), transaction_type TEXT, status TEXT, created_at TIMESTAMPTZ)"
            )
            with open(directory / "warehouse.csv", "rb") as handle:
                cursor.copy_expert(f"COPY {PG_TABLE} FROM STDIN WITH (FORMAT csv, HEADER)", handle)
            cursor.execute(f"ANALYZE {PG_TABLE}")
        pg.close()
    return expected


# -- the methods (each runs in its own subprocess) ------------------------------------------------


def _write_report(directory: Path, rows: Any) -> dict[str, int]:
    from airflow_provider_altcraft.reconcile import REPORT_COLUMNS

    counts: dict[str, int] = {}
    with open(directory / "report.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for row in rows:
            counts[str(row[0])] = counts.get(str(row[0]), 0) + 1
            writer.writerow(row)
    return counts


#: The DuckDB engine's memory limit after loading and after matching (shown per run).
LIMITS: list[str] = []


def _engine(directory: Path, engine: str, warehouse: str) -> dict[str, int]:
    from airflow_provider_altcraft.reconcile import open_reconciler
    from airflow_provider_altcraft.reconcile.pushdown import copy_query_to_csv

    with tempfile.TemporaryDirectory(dir=directory) as work:
        connection = None
        if engine == "pushdown":
            import psycopg2

            connection = psycopg2.connect(POSTGRES_URL)
        options: dict[str, Any] = {}
        if engine == "duckdb":
            if os.environ.get("BENCH_MEMORY_LIMIT"):
                options["memory_limit"] = os.environ["BENCH_MEMORY_LIMIT"]
            if os.environ.get("BENCH_THREADS"):
                options["threads"] = int(os.environ["BENCH_THREADS"])
        with open_reconciler(engine, work, connection=connection, **options) as reconciler:
            reconciler.add_export(directory / "export.csv", PERIOD)
            pg_select = WAREHOUSE_SELECT.replace("loyalty_transactions", PG_TABLE)
            if engine == "pushdown":
                reconciler.add_warehouse_query(pg_select, None, WAREHOUSE_COLUMNS)  # type: ignore[attr-defined]
            elif warehouse == "postgres":
                import psycopg2

                pg = psycopg2.connect(POSTGRES_URL)
                path = Path(work) / "warehouse.csv"
                copy_query_to_csv(pg, pg_select, None, WAREHOUSE_COLUMNS, path)
                pg.close()
                reconciler.add_warehouse_csv(path)
            else:
                db = sqlite3.connect(directory / "warehouse.db")
                reconciler.add_warehouse_sqlite(db, WAREHOUSE_SELECT, None, WAREHOUSE_COLUMNS)
                db.close()
            LIMITS.append(getattr(reconciler, "memory_limit", ""))
            reconciler.match()
            LIMITS.append(getattr(reconciler, "memory_limit", ""))
            return _write_report(directory, reconciler.differences())


def run_sqlite(directory: Path) -> dict[str, int]:
    return _engine(directory, "sqlite", "sqlite")


def run_duckdb(directory: Path) -> dict[str, int]:
    return _engine(directory, "duckdb", "sqlite")


def run_sqlite_pg(directory: Path) -> dict[str, int]:
    return _engine(directory, "sqlite", "postgres")


def run_duckdb_pg(directory: Path) -> dict[str, int]:
    return _engine(directory, "duckdb", "postgres")


def run_pushdown(directory: Path) -> dict[str, int]:
    return _engine(directory, "pushdown", "postgres")


def _warehouse_rows(directory: Path) -> Any:
    return sqlite3.connect(directory / "warehouse.db").execute(WAREHOUSE_SELECT)


def run_dict(directory: Path) -> dict[str, int]:
    altcraft: dict[str, tuple[Decimal, str, str, str]] = {}
    with open(directory / "export.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            key = row["transaction_eid"] or row["transaction_id"]
            value = (Decimal(row["amount"]), row["transaction_type"], row["status"],
                     row["created_at"])  # fmt: skip
            earlier = altcraft.get(key)
            # A temporary transaction and its committed copy: the later one counts.
            if earlier is None or (earlier[:2] == value[:2] and earlier[3] <= value[3]):
                altcraft[key] = value
    warehouse: dict[str, tuple[Decimal, str, str]] = {}
    for tid, eid, amount, kind, status, _ in _warehouse_rows(directory):
        warehouse[eid or tid] = (Decimal(amount), kind, status)
    counts: dict[str, int] = {}

    def count(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    for key, (amount, kind, status, _) in altcraft.items():
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
    altcraft["amount_d"] = altcraft["amount"].map(Decimal)
    altcraft = altcraft.sort_values("created_at", kind="stable").drop_duplicates(
        ["transaction_eid", "transaction_type", "amount_d"], keep="last"
    )
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
    _write_report(directory, [])
    return {name: n for name, n in counts.items() if n}


def run_duckdb_direct(directory: Path) -> dict[str, int]:
    import duckdb

    with tempfile.TemporaryDirectory(dir=directory) as work:
        path = Path(work) / "warehouse.csv"
        with open(path, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(_warehouse_rows(directory))
        db = duckdb.connect()
        altcraft = (
            f"SELECT * FROM read_csv('{directory / 'export.csv'}', header = true, "
            "all_varchar = true) "
            "QUALIFY row_number() OVER (PARTITION BY transaction_eid, transaction_type, "
            "CAST(amount AS DECIMAL(38, 2)) ORDER BY created_at DESC) = 1"
        )
        warehouse = (
            f"SELECT * FROM read_csv('{path}', header = false, all_varchar = true, "
            "names = ['tid', 'eid', 'amount', 'type', 'status', 'created_at'])"
        )
        rows = db.execute(
            f"""
            SELECT CASE WHEN a.transaction_eid IS NULL THEN 'missing_in_altcraft'
                        WHEN w.eid IS NULL THEN 'missing_in_warehouse'
                        WHEN CAST(a.amount AS DECIMAL(38, 2)) <> CAST(w.amount AS DECIMAL(38, 2))
                          THEN 'amount_differs'
                        WHEN a.transaction_type <> w.type THEN 'type_differs'
                        ELSE 'state_differs' END AS difference, count(*)
              FROM ({altcraft}) AS a FULL OUTER JOIN ({warehouse}) AS w
                ON a.transaction_eid = w.eid
             WHERE a.transaction_eid IS NULL OR w.eid IS NULL
                OR CAST(a.amount AS DECIMAL(38, 2)) <> CAST(w.amount AS DECIMAL(38, 2))
                OR a.transaction_type <> w.type OR a.status <> w.status
             GROUP BY 1
            """
        ).fetchall()
        db.close()
    _write_report(directory, [])
    return {name: int(n) for name, n in rows}


METHODS = {
    "sqlite": run_sqlite,
    "duckdb": run_duckdb,
    "sqlite-pg": run_sqlite_pg,
    "duckdb-pg": run_duckdb_pg,
    "pushdown": run_pushdown,
    "dict": run_dict,
    "pandas": run_pandas,
    "duckdb-direct": run_duckdb_direct,
}
POSTGRES_METHODS = ("sqlite-pg", "duckdb-pg", "pushdown")


#: What each method imports, before its clock starts (an Airflow task has them loaded; the
#: provider's package imports Airflow, ~110 MB, which the baseline column shows).
IMPORTS = {
    "dict": [],
    "pandas": ["pandas"],
    "duckdb-direct": ["duckdb"],
    "sqlite": ["airflow_provider_altcraft.reconcile"],
    "sqlite-pg": ["airflow_provider_altcraft.reconcile", "psycopg2"],
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(method: str, directory: Path) -> None:
    default = ["airflow_provider_altcraft.reconcile", "duckdb", "psycopg2"]
    for module in IMPORTS.get(method, default):
        __import__(module)
    baseline_mb = _rss_mb()
    started = time.perf_counter()
    counts = METHODS[method](directory)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": _rss_mb(), "baseline_mb": baseline_mb,
                      "counts": counts, "limits": LIMITS}))  # fmt: skip


def measure(method: str, directory: Path) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, __file__, "--child", method, "--dir", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode:
        raise SystemExit(f"{method} failed:\n{run.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def _importable(module: str) -> bool:
    # Not imported here: the parent's memory would show in its children's ru_maxrss.
    return importlib.util.find_spec(module) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 transactions")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also the PostgreSQL methods")
    parser.add_argument("--methods", help="comma-separated subset of " + ", ".join(METHODS))
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--memory-limit", help="the DuckDB engine's memory limit (e.g. 256MB)")
    parser.add_argument("--threads", type=int, help="the DuckDB engine's threads")
    parser.add_argument(
        "--keep", type=Path, help="generate into this directory once, reuse it on later runs"
    )
    parser.add_argument("--child", choices=sorted(METHODS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dir)
        return
    rows = 1_000_000 if args.million else args.rows
    if args.memory_limit:
        os.environ["BENCH_MEMORY_LIMIT"] = args.memory_limit  # read by the children
    if args.threads:
        os.environ["BENCH_THREADS"] = str(args.threads)
    methods = args.methods.split(",") if args.methods else list(METHODS)
    if not args.postgres:
        methods = [m for m in methods if m not in POSTGRES_METHODS]
    if not _importable("pandas"):
        methods = [m for m in methods if m != "pandas"]
    if not _importable("duckdb"):
        methods = [m for m in methods if not m.startswith("duckdb")]
    with tempfile.TemporaryDirectory(prefix="altcraft-reconcile-bench-", dir=args.dir) as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        if args.keep is not None:
            directory = args.keep / f"{rows}{'-pg' if args.postgres else ''}"
            if (directory / "expected.json").exists():
                expected = json.loads((directory / "expected.json").read_text())
            else:
                directory.mkdir(parents=True, exist_ok=True)
                expected = generate(directory, rows, args.postgres)
                (directory / "expected.json").write_text(json.dumps(expected))
        else:
            expected = generate(directory, rows, args.postgres)
        print(f"{rows:,} transactions ready in {time.perf_counter() - started:.1f} s; "
              f"expected differences {expected}", flush=True)  # fmt: skip
        results: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
        for _ in range(args.repeat):
            for method in methods:  # interleaved, so machine noise hits every method alike
                result = measure(method, directory)
                if result["counts"] != expected:
                    raise SystemExit(f"{method} found {result['counts']}, expected {expected}")
                results[method].append(result)
                limits = "->".join(filter(None, result.get("limits", [])))
                print(f"  {method}: {result['seconds']:.2f} s, {result['peak_mb']:.0f} MB "
                      f"(imports {result['baseline_mb']:.0f} MB"
                      f"{', DuckDB limit ' + limits if limits else ''})", flush=True)  # fmt: skip
    base = "pandas" if "pandas" in methods else methods[0]
    base_time = statistics.median(r["seconds"] for r in results[base])
    print(f"\n{rows:,} transactions; median of {args.repeat} run(s), each in a fresh process; "
          f"all methods found {expected}")  # fmt: skip
    print(f"{'method':<14} {'time s':>8} {'vs ' + base:>12} {'peak MB':>8} {'imports MB':>11}")
    for method in methods:
        seconds = statistics.median(r["seconds"] for r in results[method])
        peak = statistics.median(r["peak_mb"] for r in results[method])
        baseline = statistics.median(r["baseline_mb"] for r in results[method])
        print(f"{method:<14} {seconds:>8.2f} {base_time / seconds:>11.2f}x {peak:>8.0f} "
              f"{baseline:>11.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
