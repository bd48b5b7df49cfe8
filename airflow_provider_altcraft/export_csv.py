"""Reading a transactions export CSV by column name.

Altcraft does not publish the columns of a loyalty export; the sandbox defines them (see
the README's sandbox section). So the reader never relies on column positions: it maps the
header row by name (case and surrounding spaces ignored), tolerates columns it does not know,
and fails clearly when a column it needs is missing. Rows are streamed: a file of millions of
rows is never held in memory.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import IO

from airflow_provider_altcraft.exceptions import AltcraftError

__all__ = [
    "REQUIRED_COLUMNS",
    "ExportFormatError",
    "count_rows",
    "iter_columns",
    "iter_raw_columns",
    "read_header",
]

#: The columns the provider reads (matched by name; the sandbox's export has more, see
#: the README's sandbox section).
REQUIRED_COLUMNS = (
    "transaction_id",
    "transaction_eid",
    "amount",
    "transaction_type",
    "status",
    "created_at",
)


class ExportFormatError(AltcraftError, ValueError):
    """The export file is not what the reader needs (no header, a required column missing)."""


@contextmanager
def _open(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    # utf-8-sig: tolerate a byte-order mark that spreadsheet tools like to add.
    with open(path, encoding="utf-8-sig", newline="") as handle:
        yield handle


def _positions(
    header: Sequence[str], columns: Sequence[str], path: str | os.PathLike[str]
) -> list[int]:
    names = [name.strip().lower() for name in header]
    missing = [column for column in columns if column not in names]
    if missing:
        raise ExportFormatError(
            f"export file {os.fspath(path)!r} has no column {', '.join(map(repr, missing))}; "
            f"its columns are {', '.join(names) or '(none)'}; the reader needs "
            f"{', '.join(columns)} (matched by header name, extra columns are ignored)"
        )
    return [names.index(column) for column in columns]


def read_header(path: str | os.PathLike[str]) -> list[str]:
    """The column names of the file's header row (lower-cased, stripped)."""
    with _open(path) as handle:
        header = next(csv.reader(handle), None)
    if header is None:
        raise ExportFormatError(f"export file {os.fspath(path)!r} is empty: no header row")
    return [name.strip().lower() for name in header]


def iter_raw_columns(
    path: str | os.PathLike[str], columns: Sequence[str]
) -> Iterator[tuple[str, ...]]:
    """Like :func:`iter_columns`, but an empty value stays ``""`` (for a caller that converts
    values in bulk, e.g. in SQL: no per-value Python work)."""
    with _open(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ExportFormatError(f"export file {os.fspath(path)!r} is empty: no header row")
        positions = _positions(header, columns, path)
        # itemgetter picks in C; with one position it returns the value, not a 1-tuple.
        pick: Callable[[list[str]], tuple[str, ...]] = (
            itemgetter(*positions)
            if len(positions) > 1
            else lambda row: tuple(row[i] for i in positions)
        )
        width = len(header)
        for row in reader:
            if len(row) < width:
                if not row:
                    continue  # a trailing blank line
                raise ExportFormatError(
                    f"export file {os.fspath(path)!r}, line {reader.line_num}: "
                    f"{len(row)} fields where the header has {width}"
                )
            yield pick(row)


def iter_columns(
    path: str | os.PathLike[str], columns: Sequence[str]
) -> Iterator[tuple[str | None, ...]]:
    """Yield, for every data row, the values of ``columns`` in that order (empty → None).

    Raises :class:`ExportFormatError` before the first row when a column is missing, and for
    a row that has fewer fields than the header.
    """
    for row in iter_raw_columns(path, columns):
        yield tuple(value or None for value in row)


def count_rows(path: str | os.PathLike[str], required: Sequence[str] = ()) -> int:
    """Number of data rows (records, so quoted line breaks count once); checks ``required``."""
    return sum(1 for _ in iter_raw_columns(path, required))
