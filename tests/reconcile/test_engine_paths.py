"""The DuckDB engine's own paths: the SQLite warehouse written out as CSV text and loaded in a
second thread, and the adaptive memory limit. Real SQLite files and a real DuckDB; no
Airflow, no HTTP. The differences are checked against the row path on every engine."""

from __future__ import annotations

import csv
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.reconcile import TransactionRow, sqlite_csv
from tests.reconcile.test_reconciliation import _counts, _report

duckdb_engine = pytest.importorskip("airflow_provider_altcraft.reconcile.duckdb_engine")

#: Values that need CSV quoting, NULLs, numbers stored as REAL and INTEGER, exact decimals
#: beyond a double's precision, spaces an id is stripped of.
TRICKY = [
    (1, "e-1", "100.10", "accrual", "active", "2024-09-01T10:00:00Z"),
    (2, "e,2", "12345678901234567890.10", "accrual", "active", "2024-09-01T10:00:00Z"),
    (3, 'e"3', 0.1 + 0.2, "redeem", None, None),
    (4, "e\n4", 7, "accrual", "act\rive", "2024-09-01 10:00:00"),
    (5, " e-5 ", "5.00", "Accrual", "", "2024-09-01T10:00:00+03:00"),
    (6, None, "3", "accrual", "active", "2024-09-01T10:00:00Z"),
    (7, "é-7", "-0.50", "redeem", "committed", "2024-09-01T10:00:00Z"),
    (8, "e-8", "1E+2", "accrual", "active", "2024-09-01T10:00:00Z"),
]


def _warehouse(path: Path, rows: list[tuple[Any, ...]]) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE tx (id INTEGER, eid TEXT, amount, kind TEXT, state TEXT, at TEXT)")
    db.executemany("INSERT INTO tx VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    return db


SQL = "SELECT id, eid, amount, kind, state, at FROM tx ORDER BY rowid"
COLUMNS = ["id", "eid", "amount", "kind", "state", "at"]


def test_csv_files_read_back_as_the_row_path_formats_the_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many batches and files (small sizes), some written by the C join, some by the csv
    # module (a batch with a comma, a quote or a newline in a value).
    rows = [(n, f"e-{n}", f"{n}.5", "accrual", "active", "t") for n in range(1, 40)]
    rows[12:12] = TRICKY
    db = _warehouse(tmp_path / "w.db", rows)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(sqlite_csv, "FETCH_ROWS", 4)  # the two writers alternate in a file
    files = list(sqlite_csv.write_csv_files(db, SQL, None, COLUMNS, out, rows_per_file=10))
    db.close()

    assert len(files) == 4  # files end on a batch boundary: 12, 12, 12 and 11 rows
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    read = []
    for path in files:
        with open(path, encoding="utf-8", newline="") as handle:
            read.extend(tuple(row) for row in csv.reader(handle))
    expected = [
        tuple("\\N" if v is None else repr(v) if isinstance(v, float) else str(v) for v in row)
        for row in rows
    ]
    assert read == expected
    assert ("3", 'e"3', "0.30000000000000004", "redeem", "\\N", "\\N") in read


@pytest.mark.parametrize(
    ("batch", "plain"),
    [
        ([("a", "b", "1", "x", "y", "z")], True),
        ([("a", "b", "1", "x", "y", "")], True),
        ([("a,", "b", "1", "x", "y", "z")], False),
        ([("a", 'b"', "1", "x", "y", "z")], False),
        ([("a", "b", "1", "x", "y", "z\n")], False),
        ([("a", "b", "1", "x", "y", "z\r")], False),
        ([("a", None, 1.5, "x", "y", "z")], True),
    ],
)
def test_a_batch_is_joined_in_c_only_when_no_value_needs_quoting(
    batch: list[tuple[Any, ...]], plain: bool
) -> None:
    text = sqlite_csv.csv_text(batch)
    assert (text is not None) == plain
    if text is not None:
        assert list(csv.reader(text.splitlines())) == [
            ["\\N" if v is None else str(v) for v in row] for row in batch
        ]


def test_the_bulk_sqlite_path_finds_what_the_row_path_finds(
    open_engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Several files (a small file size): rows spread over batches and the loading thread.
    warehouse = [(n, f"g-{n}", f"{n}.10", "accrual", "active", "2024-09-01T10:00:00Z")
                 for n in range(1, 301)]  # fmt: skip
    warehouse[100:100] = TRICKY
    altcraft = [
        TransactionRow(f"t-{n}", f"g-{n}", f"{n}.1", "accrual", "active", "2024-09-01T10:00:00Z")
        for n in range(1, 301)
        if n % 50
    ]
    altcraft += [
        TransactionRow("t-2", "e,2", "12345678901234567890.1", "accrual", "active"),
        TransactionRow("t-3", 'e"3', "0.3", "redeem", None),  # the REAL is 0.30000000000000004
        TransactionRow("t-4", "e\n4", "7.0", "accrual", "active"),  # the state differs
        TransactionRow("t-5", "e-5", "5", "accrual", ""),
        TransactionRow("6", None, "3", "accrual", "active"),
        TransactionRow("t-7", "é-7", "-0.5", "redeem", "active"),
        TransactionRow("t-8", "e-8", "100", "accrual", "active"),
        TransactionRow("t-9", "e-9", "9.11", "accrual", "active"),  # not in the warehouse
    ]
    db = _warehouse(tmp_path / "w.db", warehouse)
    monkeypatch.setattr(sqlite_csv, "FETCH_ROWS", 50)
    monkeypatch.setattr(sqlite_csv, "ROWS_PER_FILE", 1)  # one batch per file
    results = []
    for bulk in (False, True):
        with open_engine() as reconciler:
            reconciler.add_altcraft(altcraft)
            if bulk:
                loaded = reconciler.add_warehouse_sqlite(db, SQL, None, COLUMNS)
            else:
                loaded = reconciler.add_warehouse(db.execute(SQL))
            results.append((loaded, reconciler.match(), _report(reconciler)))
    db.close()

    assert results[0] == results[1]
    loaded, counts, report = results[1]
    assert (loaded, counts) == (308, _counts(302, 308, 301))
    found = sorted((r["difference"], r["transaction_eid"] or r["transaction_id"]) for r in report)
    assert found == sorted(
        [
            ("amount_differs", 'e"3'),
            ("missing_in_altcraft", "e-1"),
            *(("missing_in_altcraft", f"g-{n}") for n in range(50, 301, 50)),
            ("missing_in_warehouse", "e-9"),
            ("state_differs", "e\n4"),
        ]
    )


def test_a_failed_load_in_the_loading_thread_fails_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB refuses none of the files this module writes, so the failure is forced here by
    # a subclass whose load fails: what is tested is that the reading thread re-raises it,
    # stops reading and leaves no file behind.
    class Failing(duckdb_engine.DuckDBReconciler):  # type: ignore[misc, name-defined]
        loads = 0

        def load_csv(self, *args: Any, **kwargs: Any) -> None:
            Failing.loads += 1
            raise RuntimeError("the database refused the file")

    db = _warehouse(tmp_path / "w.db", TRICKY * 50)
    monkeypatch.setattr(sqlite_csv, "FETCH_ROWS", 10)
    monkeypatch.setattr(sqlite_csv, "ROWS_PER_FILE", 1)  # 40 files
    (tmp_path / "work").mkdir()
    with (
        Failing(tmp_path / "work" / "rc.duckdb") as reconciler,
        pytest.raises(RuntimeError, match="refused the file"),
    ):
        reconciler.add_warehouse_sqlite(db, SQL, None, COLUMNS)
    db.close()
    assert Failing.loads == 1
    assert list((tmp_path / "work").iterdir()) == []


@pytest.mark.parametrize(
    ("rows", "loading", "matching"),
    [
        (0, "128MB", "96MB"),
        (1_000_000, "128MB", "96MB"),
        (2_000_000, "128MB", "96MB"),
        (2_000_001, "128MB", "128MB"),
        (5_000_000, "128MB", "128MB"),
        (5_000_001, "256MB", "256MB"),
        (10_000_000, "256MB", "256MB"),
        (10_000_001, "512MB", "512MB"),
        (25_000_000, "768MB", "768MB"),
    ],
)
def test_the_adaptive_memory_limit_for_a_row_count(rows: int, loading: str, matching: str) -> None:
    limit = duckdb_engine.adaptive_memory_limit
    assert (limit(rows), limit(rows, matching=True)) == (loading, matching)


def _setting(reconciler: Any) -> str:
    return str(reconciler.db.execute("SELECT current_setting('memory_limit')").fetchone()[0])


def test_the_engine_follows_the_rows_when_no_limit_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The thresholds scaled down (2 and 5 rows instead of millions) so that a few rows take
    # the engine through every step of the rule.
    monkeypatch.setattr(duckdb_engine, "TINY_JOB_ROWS", 2)
    monkeypatch.setattr(duckdb_engine, "SMALL_JOB_ROWS", 5)
    monkeypatch.setattr(duckdb_engine, "ROWS_PER_STEP", 10)
    rows = [TransactionRow(f"t-{n}", f"e-{n}", "1", "accrual", "active") for n in range(12)]
    with duckdb_engine.DuckDBReconciler(tmp_path / "rc.duckdb") as reconciler:
        seen = [(reconciler.memory_limit, _setting(reconciler))]
        reconciler.add_altcraft(rows[:2])
        seen.append((reconciler.memory_limit, _setting(reconciler)))
        reconciler.add_warehouse(rows[:6])  # more than a small job: the limit grows
        seen.append((reconciler.memory_limit, _setting(reconciler)))
        reconciler.add_altcraft(rows[2:12])  # 12 rows: two steps
        seen.append((reconciler.memory_limit, _setting(reconciler)))
        counts = reconciler.match()
        seen.append((reconciler.memory_limit, _setting(reconciler)))
    assert [limit for limit, _ in seen] == ["128MB", "128MB", "256MB", "512MB", "512MB"]
    # DuckDB shows the setting in its own units (MiB): the same bytes each time.
    assert [setting for _, setting in seen] == ["122.0 MiB", "122.0 MiB", "244.1 MiB",
                                                 "488.2 MiB", "488.2 MiB"]  # fmt: skip
    assert counts == _counts(12, 6, 6)


def test_matching_a_small_job_lowers_the_adaptive_limit(tmp_path: Path) -> None:
    rows = [TransactionRow("t-1", "e-1", "1", "accrual", "active")]
    with duckdb_engine.DuckDBReconciler(tmp_path / "rc.duckdb") as reconciler:
        reconciler.add_altcraft(rows)
        reconciler.add_warehouse(rows)
        loading = reconciler.memory_limit
        reconciler.match()
        assert (loading, reconciler.memory_limit) == ("128MB", "96MB")
        assert _setting(reconciler) == "91.5 MiB"


@pytest.mark.parametrize("given", ["64MB", "1GB", "300MiB"])
def test_a_given_limit_is_kept_exactly(tmp_path: Path, given: str) -> None:
    rows = [TransactionRow(f"t-{n}", f"e-{n}", "1", "accrual", "active") for n in range(3)]
    with duckdb_engine.DuckDBReconciler(tmp_path / "rc.duckdb", memory_limit=given) as reconciler:
        before = _setting(reconciler)
        reconciler.fit_memory(matching=False)
        reconciler.add_altcraft(rows)
        reconciler.add_warehouse(rows)
        reconciler.match()
        assert (reconciler.adaptive, reconciler.memory_limit) == (False, given)
        assert _setting(reconciler) == before
