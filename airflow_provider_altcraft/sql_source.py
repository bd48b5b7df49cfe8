"""Reading a query's result from any Airflow SQL connection (``common.sql``), page by page.

Shared by the operators that read rows from a warehouse, so a result of millions of rows is
never held in memory: PostgreSQL's drivers get a server-side (named) cursor, other drivers
stream or buffer as they do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow_provider_altcraft.exceptions import AltcraftValidationError

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

__all__ = ["PAGE_ROWS", "QueryResult", "query_pages", "sql_hook"]

#: Rows fetched per round trip.
PAGE_ROWS = 10_000

#: The result's column names (as the driver gives them) and its rows, page by page.
QueryResult = tuple[list[str], Iterator[Sequence[Sequence[Any]]]]


def sql_hook(conn_id: str, parameter: str) -> DbApiHook:
    """The SQL hook of connection ``conn_id``; :class:`AltcraftValidationError` naming
    ``parameter`` when the connection is not an SQL one."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_provider_altcraft.compat import BaseHook

    hook = BaseHook.get_connection(conn_id).get_hook()  # type: ignore[no-untyped-call]
    if not isinstance(hook, DbApiHook):
        raise AltcraftValidationError(
            parameter,
            f"connection {conn_id!r} is not an SQL connection ({type(hook).__name__})",
            "use a common.sql connection (SQLite, PostgreSQL, ...)",
        )
    return hook


@contextmanager
def query_pages(
    hook: DbApiHook,
    sql: str,
    parameters: Any = None,
    *,
    cursor_name: str,
    page_rows: int = PAGE_ROWS,
) -> Iterator[QueryResult]:
    """Run ``sql`` and give its column names and its rows in pages of ``page_rows``.

    The columns are known before the first row is used (even for an empty result), so a
    caller can check them first. The connection is closed on exit.
    """
    connection = hook.get_conn()
    try:
        try:
            # psycopg2/psycopg: without a name the whole result is fetched at execute().
            cursor = connection.cursor(name=cursor_name)
            cursor.itersize = page_rows
        except TypeError:  # drivers without server-side cursors (sqlite3 streams anyway)
            cursor = connection.cursor()
        cursor.arraysize = page_rows
        try:
            if parameters is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, parameters)
            first = cursor.fetchmany(page_rows)
            # A named cursor describes its result only after the first fetch.
            columns = [str(column[0]) for column in cursor.description or ()]

            def pages() -> Iterator[Sequence[Sequence[Any]]]:
                page = first
                while page:
                    yield page
                    page = cursor.fetchmany(page_rows)

            yield columns, pages()
        finally:
            cursor.close()
    finally:
        connection.close()
