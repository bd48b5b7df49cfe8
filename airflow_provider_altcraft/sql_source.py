"""Reading a query's result from any Airflow SQL connection (``common.sql``), page by page.

Shared by the operators that read rows from a warehouse, so a result of millions of rows is
never held in memory: PostgreSQL's drivers get a server-side (named) cursor, other drivers
stream or buffer as they do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow_provider_altcraft.exceptions import AltcraftValidationError

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

__all__ = ["PAGE_ROWS", "QueryResult", "query_error", "query_pages", "sql_hook"]

#: Rows fetched per round trip.
PAGE_ROWS = 10_000

#: The result's column names (as the driver gives them) and its rows, page by page.
QueryResult = tuple[list[str], Iterator[Sequence[Sequence[Any]]]]


def sql_hook(conn_id: str, parameter: str) -> DbApiHook:
    """The SQL hook of connection ``conn_id``; :class:`AltcraftValidationError` naming
    ``parameter`` when the connection is not an SQL one."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_provider_altcraft.compat import BaseHook

    try:
        connection = BaseHook.get_connection(conn_id)
    except Exception as exc:
        # AirflowNotFoundException (Airflow 2), the task SDK's own error (Airflow 3): matched by
        # name, as their classes differ between versions.
        names = " ".join(cls.__name__ for cls in type(exc).__mro__)
        if (
            "NotFound" not in names
            and "not defined" not in str(exc)
            and ("AirflowRuntimeError" not in names)
        ):
            raise
        raise AltcraftValidationError(
            parameter,
            f"connection {conn_id!r} is not defined",
            "create it (UI, AIRFLOW_CONN_* variable or secrets backend) or fix the id",
        ) from None
    hook = connection.get_hook()  # type: ignore[no-untyped-call]
    if not isinstance(hook, DbApiHook):
        raise AltcraftValidationError(
            parameter,
            f"connection {conn_id!r} is not an SQL connection ({type(hook).__name__})",
            "use a common.sql connection (SQLite, PostgreSQL, ...)",
        )
    return hook


#: DB-API error classes that mean "this query or its parameters are wrong" (not a lost
#: connection): a retry cannot fix them.
_INPUT_ERRORS = frozenset({"ProgrammingError", "DataError", "NotSupportedError", "Warning"})
#: Python errors the drivers raise for parameters that do not fit the placeholders
#: (psycopg2: IndexError / TypeError / KeyError).
_PARAMETER_ERRORS = (TypeError, IndexError, KeyError)
#: OperationalError covers both lost connections and, for SQLite, bad queries: these are the
#: latter.
_SQL_MISTAKE = re.compile(
    r"no such (table|column|function)|syntax error|has no column|unrecognized token|"
    r"incomplete input|does not exist|ambiguous column",
    re.IGNORECASE,
)
_PARAMETER_MISTAKE = re.compile(r"binding|parameter|argument|placeholder", re.IGNORECASE)


def query_error(
    exc: BaseException, *, sql_argument: str = "sql", parameters_argument: str = "sql_parameters"
) -> AltcraftValidationError | None:
    """The one-sentence error of a query that failed because of its text or its parameters
    (missing table or column, syntax, a wrong number of parameters), or None for other
    failures (a lost connection, a lock: those may pass on a retry)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    lines = str(exc).strip().splitlines()
    text = (lines[0] if lines else type(exc).__name__)[:300]
    if isinstance(exc, _PARAMETER_ERRORS) and not names & {"Error", "DatabaseError"}:
        return AltcraftValidationError(
            parameters_argument,
            f"do not fit the query's placeholders ({type(exc).__name__}: {text})",
            "pass one value per placeholder: a list for ? or %s, a dict for :name or %(name)s",
        )
    mistake = bool(names & _INPUT_ERRORS) or (
        "OperationalError" in names and _SQL_MISTAKE.search(text) is not None
    )
    if not mistake:
        return None
    if "one statement" in text:
        return AltcraftValidationError(
            sql_argument, f"holds more than one statement ({text})", "pass one SELECT query"
        )
    if _PARAMETER_MISTAKE.search(text):
        return AltcraftValidationError(
            parameters_argument,
            f"do not fit the query: {text}",
            "pass one value per placeholder: a list for ? or %s, a dict for :name or %(name)s",
        )
    return AltcraftValidationError(
        sql_argument,
        f"the query failed: {text}",
        "check the table and column names and the query's syntax",
    )


@contextmanager
def query_pages(
    hook: DbApiHook,
    sql: str,
    parameters: Any = None,
    *,
    cursor_name: str,
    page_rows: int = PAGE_ROWS,
    sql_argument: str = "sql",
    parameters_argument: str = "sql_parameters",
) -> Iterator[QueryResult]:
    """Run ``sql`` and give its column names and its rows in pages of ``page_rows``.

    The columns are known before the first row is used (even for an empty result), so a
    caller can check them first. The connection is closed on exit. A query that fails because
    of its text or its parameters raises :class:`AltcraftValidationError` naming
    ``sql_argument`` or ``parameters_argument`` (see :func:`query_error`).
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
            try:
                if parameters is None:
                    cursor.execute(sql)
                else:
                    cursor.execute(sql, parameters)
                first = cursor.fetchmany(page_rows)
            except Exception as exc:
                error = query_error(
                    exc, sql_argument=sql_argument, parameters_argument=parameters_argument
                )
                if error is None:
                    raise
                raise error from None
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
