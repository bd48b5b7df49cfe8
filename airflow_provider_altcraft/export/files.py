"""Turning the files of a finished transactions export into one checked CSV.

``tasks/status`` lists the export's files in ``result.urls`` (the guide: a list, so possibly
several). They are downloaded one by one, streamed, then assembled here, again streamed:

* every part must have the same header (a part that differs is an error, not a guess);
* the rows of all parts together must number what Altcraft announced (``result.total``),
  else the download is incomplete;
* only rows with ``start <= created_at < end`` are kept: Altcraft reads ``date_to`` as
  inclusive, so a row created at exactly the period's end belongs to the next period
  (:mod:`airflow_provider_altcraft.periods`).

The file appears at its destination complete or not at all (written beside it, renamed).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_provider_altcraft import storage
from airflow_provider_altcraft.export.csv_reader import (
    REQUIRED_COLUMNS,
    ExportFormatError,
    column_positions,
)
from airflow_provider_altcraft.periods import Period
from airflow_provider_altcraft.validation import parse_datetime

__all__ = ["AssembledExport", "ExportIncompleteError", "assemble_export"]


class ExportIncompleteError(ExportFormatError):
    """The downloaded files do not hold the rows Altcraft announced."""


class AssembledExport:
    """What :func:`assemble_export` wrote: rows kept, rows dropped at the bounds, bytes."""

    def __init__(self, rows: int, dropped: int, size: int) -> None:
        self.rows, self.dropped, self.size = rows, dropped, size


def assemble_export(
    parts: Sequence[Path],
    destination: Path,
    period: Period,
    *,
    announced_total: int | None,
    task_id: str,
) -> AssembledExport:
    """Write the period's rows of ``parts`` (in order) to ``destination``."""
    unchecked = destination.with_name(destination.name + ".unchecked")
    read = kept = 0
    header: list[str] | None = None
    try:
        with storage.open_private(unchecked, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            for part in parts:
                with open(part, encoding="utf-8-sig", newline="") as handle:
                    reader = csv.reader(handle)
                    part_header = _next_row(reader, part)
                    if part_header is None:
                        continue  # an empty part: no header, no rows
                    if header is None:
                        header = part_header
                        writer.writerow(header)
                        created = column_positions(header, ("created_at",), part)["created_at"]
                    elif part_header != header:
                        raise ExportFormatError(
                            f"export task {task_id}: file {part.name} has the columns "
                            f"{', '.join(part_header)}, the first file {', '.join(header)}; "
                            "the parts of one export must share their header"
                        )
                    while (row := _next_row(reader, part)) is not None:
                        if not row:
                            continue  # a blank line
                        read += 1
                        if period.contains(_created_at(row, created, part, reader.line_num)):
                            writer.writerow(row)
                            kept += 1
            if header is None:  # nothing exported: a header alone, so readers still work
                writer.writerow(REQUIRED_COLUMNS)
        if announced_total is not None and announced_total != read:
            raise ExportIncompleteError(
                f"export task {task_id}: the downloaded files hold {read} rows but Altcraft "
                f"announced {announced_total}; the download is incomplete"
            )
        size = unchecked.stat().st_size
        unchecked.replace(destination)
    finally:
        unchecked.unlink(missing_ok=True)
    return AssembledExport(kept, read - kept, size)


def _next_row(reader: Any, part: Path) -> list[str] | None:
    try:
        return next(reader, None)
    except UnicodeDecodeError:
        raise ExportFormatError(f"export file {part.name} is not UTF-8 text") from None
    except csv.Error as exc:
        raise ExportFormatError(
            f"export file {part.name}, line {reader.line_num}: not readable as CSV ({exc})"
        ) from None


def _created_at(row: list[str], position: int, part: Path, line: int) -> datetime:
    try:
        return parse_datetime(row[position], "created_at")
    except (IndexError, ValueError):
        value = row[position] if position < len(row) else "(missing)"
        raise ExportFormatError(
            f"export file {part.name}, line {line}: created_at {value!r} is not an RFC3339 "
            "date-time, so the row cannot be placed in the period"
        ) from None
