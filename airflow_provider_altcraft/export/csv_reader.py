"""Reading a transactions export CSV by column name.

Altcraft does not publish the columns of a loyalty export. So the reader never relies on
column positions or on exact spellings: it maps the header row by name, ignoring case,
spaces, ``-`` and ``_`` (``Transaction ID`` = ``transaction_id``), knows a few aliases
(:data:`COLUMN_ALIASES`), tolerates columns it does not know, and fails clearly, with one
:class:`ExportFormatError` naming the file, what is wrong and what it accepts, when it cannot
read a file (no header, a required column missing, not UTF-8, a malformed row, an oversized
field). Rows are streamed: a file of millions of rows is never held in memory.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import IO

from airflow_provider_altcraft.exceptions import AltcraftError

__all__ = [
    "ACCEPTED",
    "COLUMN_ALIASES",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "ExportFormatError",
    "column_positions",
    "count_rows",
    "iter_columns",
    "iter_raw_columns",
    "normalise_name",
    "read_header",
]

#: The columns reconciliation needs (the transactions-list fields the Altcraft guide publishes).
REQUIRED_COLUMNS = (
    "transaction_id",
    "transaction_eid",
    "amount",
    "transaction_type",
    "created_at",
)
#: Read when present: no transaction status is published, so an export may not have one.
OPTIONAL_COLUMNS = ("status",)
#: Other header names accepted for a column (compared after :func:`normalise_name`).
COLUMN_ALIASES: Mapping[str, tuple[str, ...]] = {
    "transaction_id": ("id", "transaction id"),
    "transaction_eid": ("eid", "external_id", "transaction_external_id"),
    "transaction_type": ("type",),
    "created_at": ("date", "created"),
    "status": ("state",),
}
#: What the reader accepts, quoted in its errors.
ACCEPTED = (
    "a UTF-8 CSV file (comma-separated, double-quoted fields, a byte-order mark allowed) "
    "whose header row names the columns"
)

_SEPARATORS = re.compile(r"[\s_\-]+")


def normalise_name(name: str) -> str:
    """A header name as compared: lower case, without spaces, ``-`` and ``_``."""
    return _SEPARATORS.sub("", name.lower())


#: Normalised header name → the column it is.
_NAMES: dict[str, str] = {
    normalise_name(alias): column
    for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    for alias in (column, *COLUMN_ALIASES.get(column, ()))
}


class ExportFormatError(AltcraftError, ValueError):
    """The export file is not what the reader can read (see :data:`ACCEPTED`)."""


def _accepted_names(column: str) -> str:
    return " / ".join((column, *COLUMN_ALIASES.get(column, ())))


@contextmanager
def _open(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    # utf-8-sig: tolerate a byte-order mark that spreadsheet tools like to add.
    with open(path, encoding="utf-8-sig", newline="") as handle:
        yield handle


def column_positions(
    header: Sequence[str],
    columns: Sequence[str],
    path: str | os.PathLike[str],
    *,
    optional: Sequence[str] = (),
) -> dict[str, int]:
    """Column → position in ``header`` for ``columns`` (all required) and those of
    ``optional`` that are present; :class:`ExportFormatError` for a missing or ambiguous one."""
    found: dict[str, list[int]] = {}
    exact: dict[str, list[int]] = {}
    for position, name in enumerate(header):
        key = normalise_name(name)
        column = _NAMES.get(key, key)
        found.setdefault(column, []).append(position)
        if key == normalise_name(column):
            exact.setdefault(column, []).append(position)
    positions: dict[str, int] = {}
    missing = []
    for column in (*columns, *optional):
        candidates = exact.get(column) or found.get(column, [])
        if len(candidates) > 1:
            names = ", ".join(repr(header[i]) for i in candidates)
            raise ExportFormatError(
                f"export file {os.fspath(path)!r} has several columns for {column} ({names}); "
                f"the reader accepts one column named {_accepted_names(column)}"
            )
        if candidates:
            positions[column] = candidates[0]
        elif column not in optional:
            missing.append(column)
    if missing:
        raise ExportFormatError(
            f"export file {os.fspath(path)!r} has no column "
            f"{', '.join(repr(c) for c in missing)}; its columns are "
            f"{', '.join(name.strip() for name in header) or '(none)'}; the reader needs "
            f"{'; '.join(_accepted_names(c) for c in columns)} (case, spaces, '-' and '_' "
            "ignored; extra columns are ignored)"
        )
    return positions


def _decoding_error(path: str | os.PathLike[str], exc: UnicodeDecodeError) -> str:
    """Where the first byte that is not UTF-8 is (found again in binary: the text layer
    decodes ahead of the CSV reader, so its position says little)."""
    where = f"byte {exc.object[exc.start : exc.end]!r}"
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as bad:
                where = f"byte {line[bad.start : bad.end]!r} on line {number}"
                break
    return (
        f"export file {os.fspath(path)!r} is not UTF-8 text ({where}); the reader accepts "
        f"{ACCEPTED}"
    )


def _csv_error(path: str | os.PathLike[str], line: int, exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        what = f"a field longer than {csv.field_size_limit():,} characters"
    else:
        what = f"a malformed row ({text})"
    return f"export file {os.fspath(path)!r}, line {line}: {what}; the reader accepts {ACCEPTED}"


def read_header(path: str | os.PathLike[str]) -> list[str]:
    """The column names of the file's header row, as written (stripped)."""
    with _open(path) as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
        except UnicodeDecodeError as exc:
            raise ExportFormatError(_decoding_error(path, exc)) from None
        except csv.Error as exc:
            raise ExportFormatError(_csv_error(path, 1, exc)) from None
    if not header:
        raise ExportFormatError(
            f"export file {os.fspath(path)!r} is empty: no header row; the reader accepts "
            f"{ACCEPTED}"
        )
    return [name.strip() for name in header]


def iter_raw_columns(
    path: str | os.PathLike[str], columns: Sequence[str], *, optional: Sequence[str] = ()
) -> Iterator[tuple[str, ...]]:
    """Like :func:`iter_columns`, but an empty value stays ``""`` (for a caller that converts
    values in bulk, e.g. in SQL: no per-value Python work). A column of ``optional`` the file
    does not have reads as ``""``."""
    header = read_header(path)
    found = column_positions(header, columns, path, optional=optional)
    width = len(header)
    # A missing optional column picks the "" appended to each row.
    positions = [found.get(column, width) for column in (*columns, *optional)]
    # itemgetter picks in C; with one position it returns the value, not a 1-tuple.
    pick: Callable[[list[str]], tuple[str, ...]]
    if len(positions) > 1:
        pick = itemgetter(*positions)
    else:
        pick = lambda row: tuple(row[i] for i in positions)  # noqa: E731
    padded = len(positions) and max(positions) >= width
    with _open(path) as handle:
        reader = csv.reader(handle, strict=True)
        try:
            next(reader)
            for row in reader:
                if len(row) < width:
                    if not row:
                        continue  # a trailing blank line
                    raise ExportFormatError(
                        f"export file {os.fspath(path)!r}, line {reader.line_num}: "
                        f"{len(row)} fields where the header has {width}; the reader accepts "
                        "rows with a value (empty or not) for every header column"
                    )
                if padded:
                    del row[width:]
                    row.append("")
                yield pick(row)
        except UnicodeDecodeError as exc:
            raise ExportFormatError(_decoding_error(path, exc)) from None
        except csv.Error as exc:
            raise ExportFormatError(_csv_error(path, reader.line_num, exc)) from None


def iter_columns(
    path: str | os.PathLike[str], columns: Sequence[str], *, optional: Sequence[str] = ()
) -> Iterator[tuple[str | None, ...]]:
    """Yield, for every data row, the values of ``columns`` then ``optional`` in that order
    (empty or absent → None).

    Raises :class:`ExportFormatError` before the first row when a column is missing, and for
    a row that cannot be read.
    """
    for row in iter_raw_columns(path, columns, optional=optional):
        yield tuple(value or None for value in row)


def count_rows(path: str | os.PathLike[str], required: Sequence[str] = ()) -> int:
    """Number of data rows (records, so quoted line breaks count once); checks ``required``
    and that every row can be read."""
    return sum(1 for _ in iter_raw_columns(path, required))
