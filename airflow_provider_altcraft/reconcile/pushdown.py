"""Push-down: the comparison runs inside a PostgreSQL warehouse, only the differences return.

The Altcraft export is copied into a temporary table of the warehouse (``COPY ... FROM
STDIN``), the warehouse's own query fills another temporary table without leaving the
server, and the same SQL as the DuckDB engine (:mod:`.sql_engine`) computes the differences
there. Temporary tables vanish with the session; nothing is written to the warehouse's
tables. Works with psycopg2 and psycopg 3 connections (what the postgres provider's hook
returns). Also here: reading a PostgreSQL query in bulk (``COPY ... TO STDOUT``) for the
other engines.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from airflow_provider_altcraft.reconcile.common import WHITESPACE
from airflow_provider_altcraft.reconcile.sql_engine import WAREHOUSE, SQLReconciler, literal

__all__ = [
    "PostgresPushdownReconciler",
    "copy_query_to_csv",
    "describe_query",
    "is_postgres",
]

#: Rows per round trip when streaming the differences.
FETCH_ROWS = 10_000
_STAGING = "altcraft_rc_csv"
_COPY_BLOCK = 1 << 20


def is_postgres(connection: Any) -> bool:
    """A psycopg2 or psycopg 3 connection."""
    module = type(connection).__module__
    return module.startswith(("psycopg2", "psycopg"))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _subquery(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


def _copy_from(cursor: Any, statement: str, path: str | os.PathLike[str]) -> None:
    with open(path, "rb") as handle:
        if hasattr(cursor, "copy_expert"):  # psycopg2
            cursor.copy_expert(statement, handle)
            return
        with cursor.copy(statement) as copy:  # psycopg 3
            while block := handle.read(_COPY_BLOCK):
                copy.write(block)


def describe_query(connection: Any, sql: str, parameters: Any) -> list[str]:
    """The column names of ``sql``'s result, without running it for its rows."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({_subquery(sql)}) AS q LIMIT 0", parameters)
        return [str(column[0]) for column in cursor.description or ()]


def _text_columns(columns: Sequence[str | None]) -> str:
    return ", ".join("NULL" if c is None else f"q.{_quote(c)}::text" for c in columns)


def copy_query_to_csv(
    connection: Any,
    sql: str,
    parameters: Any,
    columns: Sequence[str | None],
    path: str | os.PathLike[str],
) -> None:
    """Write ``sql``'s ``columns`` (None: an empty column) as CSV with a header, NULL as
    ``\\N``, through ``COPY ... TO STDOUT``: the server formats the rows, Python only moves
    bytes. Date-times come in UTC."""
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
        query = f"SELECT {_text_columns(columns)} FROM ({_subquery(sql)}) AS q"
        statement = f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true, NULL '\\N')"
        with open(path, "wb") as handle:
            if hasattr(cursor, "copy_expert"):  # psycopg2: no parameters in COPY
                if parameters is not None:
                    statement = cursor.mogrify(statement, parameters).decode()
                cursor.copy_expert(statement, handle)
            else:
                with cursor.copy(statement, parameters) as copy:
                    for block in copy:
                        handle.write(block)


class PostgresPushdownReconciler(SQLReconciler):
    """The push-down engine on a PostgreSQL ``connection`` (closed on exit).

    Load the warehouse side with :meth:`add_warehouse_query`.

    :param temp_buffers: / :param work_mem: the session's PostgreSQL settings (server memory
        for the temporary tables and for each hash join or sort).
    """

    engine = "pushdown"
    create = "CREATE TEMP TABLE"
    rid = "rid"
    rid_column = "rid BIGSERIAL, "

    def __init__(
        self,
        connection: Any,
        *,
        temp_buffers: str = "128MB",
        work_mem: str = "64MB",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.connection = connection
        # Every statement its own transaction: a refused COPY leaves the session usable.
        self.connection.autocommit = True
        self.execute("SET TIME ZONE 'UTC'")
        self.execute("SET client_encoding = 'UTF8'")
        # This session's memory on the server: temporary tables and hash joins beyond these
        # go to disk (the defaults, 8MB and 4MB, would send nearly everything there).
        self.execute(f"SET temp_buffers = {literal(temp_buffers)}")
        self.execute(f"SET work_mem = {literal(work_mem)}")
        self.setup()

    def close(self) -> None:
        self.connection.close()  # the temporary tables go with the session

    def execute(self, sql: str, parameters: Any = None) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, parameters)

    def fetchall(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        # A server-side cursor (WITH HOLD: there is no transaction to hold it open).
        cursor = self.connection.cursor(name="altcraft_rc_differences", withhold=True)
        try:
            cursor.execute(sql)
            while rows := cursor.fetchmany(FETCH_ROWS):
                yield from rows
        finally:
            cursor.close()

    def analyze(self, table: str) -> None:
        # Temporary tables get no automatic statistics: without them the planner guesses.
        self.execute(f"ANALYZE {table}")

    def regex(self, text: str, pattern: str) -> str:
        return f"({text} ~ {literal('^(?:' + pattern + ')$')})"

    def trim(self, text: str) -> str:
        return f"btrim({text}, {literal(WHITESPACE)})"

    def binary(self, text: str) -> str:
        return f'({text} COLLATE "C")'

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
        names = ", ".join(f"c{i}" for i in range(width))
        self.execute(f"DROP TABLE IF EXISTS {_STAGING}")
        self.execute(
            f"CREATE TEMP TABLE {_STAGING} (n BIGSERIAL, "
            + ", ".join(f"c{i} TEXT" for i in range(width))
            + ")"
        )
        force_null = f", FORCE_NULL ({names})" if quoted_nulls else ""
        with self.connection.cursor() as cursor:
            _copy_from(
                cursor,
                f"COPY {_STAGING} ({names}) FROM STDIN WITH (FORMAT csv, "
                f"HEADER {str(header).lower()}, NULL {literal(null)}{force_null})",
                path,
            )
        self.execute(
            self.insert_sql(table, [c or "NULL" for c in select], _STAGING, where, "ORDER BY n")
        )
        self.execute(f"DROP TABLE {_STAGING}")

    def add_warehouse_query(self, sql: str, parameters: Any, columns: Sequence[str | None]) -> int:
        """Load the result of the warehouse's ``sql`` without it leaving the server:
        ``columns`` are the result's columns in :class:`TransactionRow` order (None for a field
        the warehouse lacks)."""
        before = self._count(WAREHOUSE)
        values = [None if c is None else f"q.{_quote(c)}::text" for c in columns]
        source = "altcraft_rc_source"
        statement = self.insert_sql(WAREHOUSE, self._select(values), f"({source}) AS q")
        if parameters is not None:
            # The driver reads "%" as a placeholder: our patterns' are doubled, the query's kept.
            statement = statement.replace("%", "%%")
        statement = statement.replace(source, _subquery(sql))
        self.execute(statement, parameters)
        self._check_amounts(WAREHOUSE)
        return self._count(WAREHOUSE) - before
