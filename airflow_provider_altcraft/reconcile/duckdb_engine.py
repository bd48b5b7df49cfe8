"""The columnar engine: DuckDB, an optional dependency (``pip install
'airflow-provider-altcraft[duckdb]'``), imported only when a reconciliation runs.

The export CSV and the warehouse's bulk output are read by DuckDB's own parallel CSV reader,
the joins are hash joins, and a memory limit makes DuckDB spill to a scratch directory
instead of growing: peak memory stays flat from one million rows to tens of millions.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.reconcile.common import WHITESPACE
from airflow_provider_altcraft.reconcile.sql_engine import SQLReconciler, literal

__all__ = ["DEFAULT_MEMORY_LIMIT", "DuckDBReconciler"]

#: DuckDB's buffer pool; beyond it, joins and sorts spill to disk.
DEFAULT_MEMORY_LIMIT = "256MB"
#: The CSV reader's buffer per thread (its default, 16 MiB, is a large part of a small limit).
CSV_BUFFER = 4 << 20
#: Rows fetched per round trip when streaming the differences.
FETCH_ROWS = 10_000


class DuckDBReconciler(SQLReconciler):
    """The DuckDB engine: an in-memory database that spills to the directory ``path`` +
    ``.spill`` (removed on exit) beyond its memory limit.

    :param memory_limit: DuckDB's memory limit (e.g. ``"256MB"``, ``"1GB"``); more is
        faster for tens of millions of rows; too little fails with DuckDB's out-of-memory
        error (joins and aggregations need some pinned blocks per thread: 64MB is enough for
        a million rows, 128MB for five million, 256MB for ten million).
    :param threads: DuckDB's threads (default: one per core).
    """

    engine = "duckdb"

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        threads: int | None = None,
        **options: Any,
    ) -> None:
        import duckdb  # only here: DAG parsing never imports it

        super().__init__(**options)
        self.path = Path(path)
        self.spill = self.path.with_name(self.path.name + ".spill")
        config: dict[str, Any] = {
            "memory_limit": memory_limit,
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

    def match(self) -> dict[str, int]:
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
