"""The columnar engine: DuckDB, an optional dependency (``pip install
'airflow-provider-altcraft[duckdb]'``), imported only when a reconciliation runs.

The export CSV and the warehouse's bulk output are read by DuckDB's own parallel CSV reader,
the joins are hash joins, and a memory limit makes DuckDB spill to a scratch directory
instead of growing: peak memory stays flat from one million rows to tens of millions.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.reconcile.common import WHITESPACE
from airflow_provider_altcraft.reconcile.sql_engine import (
    ALTCRAFT,
    WAREHOUSE,
    SQLReconciler,
    literal,
)

__all__ = ["DEFAULT_MEMORY_LIMIT", "DuckDBReconciler", "adaptive_memory_limit"]

#: The adaptive limit (no limit given), by the rows on the larger side: up to
#: :data:`SMALL_JOB_ROWS`, :data:`SMALL_LOAD_MB` while loading and :data:`SMALL_MATCH_MB`
#: (:data:`TINY_MATCH_MB` up to :data:`TINY_JOB_ROWS`) while matching; beyond, :data:`STEP_MB`
#: per started :data:`ROWS_PER_STEP` rows throughout.
TINY_JOB_ROWS = 2_000_000
TINY_MATCH_MB = 96
SMALL_JOB_ROWS = 5_000_000
SMALL_LOAD_MB = 128
SMALL_MATCH_MB = 128
STEP_MB = 256
ROWS_PER_STEP = 10_000_000
#: Kept for existing imports: the limit chosen for ten million rows.
DEFAULT_MEMORY_LIMIT = "256MB"
#: The CSV reader's buffer per thread (its default, 16 MiB, is a large part of a small limit).
CSV_BUFFER = 4 << 20
#: Rows fetched per round trip when streaming the differences.
FETCH_ROWS = 10_000


def adaptive_memory_limit(rows: int, *, matching: bool = False) -> str:
    """DuckDB's memory limit when none is given, for ``rows`` (the larger side), while
    loading or while ``matching``.

    Up to five million rows: 128MB while loading (below it the CSV reader's appends spill
    and the load slows), and while matching 96MB up to two million rows (a million then
    peaks at about 225 MB of RSS instead of 250 MB, as fast), else 128MB. Beyond: 256MB per
    started ten million rows (ten million need 256MB: at 128MB DuckDB runs out of memory).
    """
    return f"{_adaptive_mb(rows, matching=matching)}MB"


def _adaptive_mb(rows: int, *, matching: bool) -> int:
    if rows > SMALL_JOB_ROWS:
        return STEP_MB * math.ceil(rows / ROWS_PER_STEP)
    if not matching:
        return SMALL_LOAD_MB
    return TINY_MATCH_MB if rows <= TINY_JOB_ROWS else SMALL_MATCH_MB


class DuckDBReconciler(SQLReconciler):
    """The DuckDB engine: an in-memory database that spills to the directory ``path`` +
    ``.spill`` (removed on exit) beyond its memory limit.

    :param memory_limit: DuckDB's memory limit (e.g. ``"256MB"``, ``"1GB"``), kept exactly
        as given. None (the default): adaptive, :func:`adaptive_memory_limit` of the rows
        loaded so far: raised after each load if they need more, set for matching by
        ``match()``. More is faster for tens of millions of rows; too little fails with
        DuckDB's out-of-memory error (joins and aggregations need some pinned blocks per
        thread: 64MB is enough for a million rows, 128MB for five million, 256MB for ten
        million).
    :param threads: DuckDB's threads (default: one per core).
    """

    engine = "duckdb"

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        **options: Any,
    ) -> None:
        import duckdb  # only here: DAG parsing never imports it

        super().__init__(**options)
        self.path = Path(path)
        self.scratch = self.path.parent
        self.spill = self.path.with_name(self.path.name + ".spill")
        #: Whether the limit follows the rows (no limit given).
        self.adaptive = memory_limit is None
        #: The memory limit in force.
        self._limit_mb = _adaptive_mb(0, matching=False)
        self.memory_limit = f"{self._limit_mb}MB" if memory_limit is None else memory_limit
        config: dict[str, Any] = {
            "memory_limit": self.memory_limit,
            "temp_directory": str(self.spill),
            "preserve_insertion_order": True,
            # Give freed memory back instead of keeping it per thread (RSS, not speed).
            "allocator_flush_threshold": "8MB",
        }
        if threads:
            config["threads"] = threads
        # In memory, spilling to ``spill`` beyond the limit: no database file to write.
        self.db = duckdb.connect(":memory:", config=config)
        self.setup()

    def fit_memory(self, *, matching: bool) -> None:
        """Adaptive limit: :func:`adaptive_memory_limit` of the rows loaded so far; while
        loading it only grows."""
        if not self.adaptive:
            return
        rows = max(self._count(ALTCRAFT), self._count(WAREHOUSE))
        megabytes = _adaptive_mb(rows, matching=matching)
        if megabytes != self._limit_mb and (matching or megabytes > self._limit_mb):
            self._limit_mb = megabytes
            self.memory_limit = f"{megabytes}MB"
            self.db.execute(f"SET memory_limit = {literal(self.memory_limit)}")

    def analyze(self, table: str) -> None:
        # After each load: the next load may need more memory.
        self.fit_memory(matching=False)

    def match(self) -> dict[str, int]:
        # Matching needs less than loading: what does not fit goes to the spill directory.
        self.fit_memory(matching=True)
        # Load order is in the rowids now: what follows needs no order kept (less memory).
        self.db.execute("SET preserve_insertion_order = false")
        return super().match()

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self.spill, ignore_errors=True)

    def execute(self, sql: str, parameters: Any = None) -> None:
        self.db.execute(sql, parameters)

    def fetchall(self, sql: str) -> list[tuple[Any, ...]]:
        return self.db.execute(sql).fetchall()

    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        cursor = self.db.cursor()
        try:
            cursor.execute(sql)
            while rows := cursor.fetchmany(FETCH_ROWS):
                yield from rows
        finally:
            cursor.close()

    def regex(self, text: str, pattern: str) -> str:
        return f"regexp_full_match({text}, {literal(pattern)})"

    def trim(self, text: str) -> str:
        return f"trim({text}, {literal(WHITESPACE)})"

    def load_csv(
        self,
        table: str,
        path: str | os.PathLike[str],
        *,
        width: int,
        select: Sequence[str | None],
        null: str,
        header: bool,
        where: str = "TRUE",
        quoted_nulls: bool = True,
    ) -> None:
        columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
        source = (
            f"read_csv({literal(os.fspath(path))}, header = false, skip = {int(header)}, "
            f"columns = {{{columns}}}, delim = ',', quote = '\"', escape = '\"', "
            f"auto_detect = false, strict_mode = true, null_padding = false, "
            f"nullstr = {literal(null)}, allow_quoted_nulls = {str(quoted_nulls).lower()}, "
            f"buffer_size = {CSV_BUFFER})"
        )
        self.db.execute(self.insert_sql(table, [c or "NULL" for c in select], source, where))
