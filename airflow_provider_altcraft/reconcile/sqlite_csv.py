"""A SQLite warehouse query written out as CSV files, fast, for a database's own CSV reader.

The query's values come as stored, in batches. A batch of texts is joined into one text by
``str.join`` (C, no Python code per row) and written as is when counting its commas,
newlines and quotes shows that no value needs CSV quoting; otherwise it goes through the
``csv`` module. A column holding something else (NULL, a number) is made text value by value
as the row path reads it (NULL as ``\\N``, a REAL through Python's ``repr``), only in the
batches where it does. Rows go into files of :data:`ROWS_PER_FILE` rows, each created
private (0600), so that a consumer can load one file while the next is being written.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.reconcile.base import NULL_MARKER

__all__ = ["ROWS_PER_FILE", "as_texts", "csv_text", "selected_query", "write_csv_files"]

#: Rows per fetch from SQLite (one joined text of a few hundred KB: little memory held).
FETCH_ROWS = 5_000
#: Rows per CSV file handed to the consumer.
ROWS_PER_FILE = 200_000
WIDTH = 6


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def selected_query(sql: str, columns: Sequence[str | None]) -> str:
    """``sql``'s ``columns`` in :class:`TransactionRow` order (None: a field the warehouse
    lacks, read as NULL), the values as stored: no SQL per value."""
    return (
        f"SELECT {', '.join('NULL' if c is None else 'q.' + _quote(c) for c in columns)} "
        f"FROM ({sql.strip().rstrip(';')}) AS q"
    )


def _text(value: object) -> str:
    """A value SQLite returned that is no text, as the row path reads it: NULL marked, a
    REAL through its shortest repr, a BLOB as UTF-8 text (as SQL's CAST reads it)."""
    if value is None:
        return NULL_MARKER
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value) if isinstance(value, float) else str(value)


def as_texts(rows: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    """The rows with every value a text: only the columns holding something else (NULL, a
    number) go through :func:`_text`, value by value."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for index, column in enumerate(columns):
        if set(map(type, column)) != {str}:
            columns[index] = [v if v.__class__ is str else _text(v) for v in column]
    return list(zip(*columns, strict=True))


def csv_text(rows: list[tuple[Any, ...]]) -> str | None:
    """The rows as CSV lines (NULL ``\\N``) when no value needs quoting (no comma, quote, CR
    or LF inside a value: the counts prove it), else None. Joined in C: no Python code per
    row when every value is a text."""
    try:
        text = "\n".join(map(",".join, rows)) + "\n"
    except TypeError:  # a NULL or a number in the batch
        rows = as_texts(rows)
        text = "\n".join(map(",".join, rows)) + "\n"
    count = len(rows)
    if (
        text.count(",") == (WIDTH - 1) * count
        and text.count("\n") == count
        and '"' not in text
        and "\r" not in text
    ):
        return text
    return None


def _private_file(path: Path) -> Any:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return open(descriptor, "w", encoding="utf-8", newline="")


def write_csv_files(
    connection: sqlite3.Connection,
    sql: str,
    parameters: Any,
    columns: Sequence[str | None],
    directory: Path,
    rows_per_file: int | None = None,
) -> Iterator[Path]:
    """Run ``sql`` on ``connection`` and write its ``columns`` (:class:`TransactionRow`
    order) as CSV files (no header, NULL ``\\N``) in ``directory``, in row order; yields each
    file once it is complete (the consumer removes it)."""
    rows_per_file = rows_per_file or ROWS_PER_FILE
    cursor = connection.execute(
        selected_query(sql, columns), () if parameters is None else parameters
    )
    try:
        number = 0
        batch = cursor.fetchmany(FETCH_ROWS)
        while batch:
            path = directory / f"warehouse-{number:06d}.csv"
            number += 1
            written = 0
            with _private_file(path) as handle:
                writer = csv.writer(handle)
                while batch and written < rows_per_file:
                    text = csv_text(batch)
                    if text is None:
                        writer.writerows(as_texts(batch))
                    else:
                        handle.write(text)
                    written += len(batch)
                    batch = cursor.fetchmany(FETCH_ROWS)
            yield path
    finally:
        cursor.close()
