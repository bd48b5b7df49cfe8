"""Rows of a batch of points requests: reading them as a stream, validating them, chunking them.

A row is a mapping whose keys are the argument names of the single redeem/accrue operators
(``email``, ``amount``, ``transaction_eid``, ``created_at`` ...). Sources are re-readable
(validation reads the rows once, sending reads them again), and files and SQL results are
streamed, so memory does not grow with the number of rows. A rows file is a local path or an
object-storage URI (``s3://conn@bucket/rows.csv``), read through
:mod:`airflow_provider_altcraft.storage`. Only the standard library is imported at module
level: the batch operator module imports this at DAG parse time.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlsplit

from airflow_provider_altcraft import storage
from airflow_provider_altcraft.eids import position_namespace as position_namespace  # old path
from airflow_provider_altcraft.eids import row_eid
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.models import Matching, PointsOperation, PointsRequest

# The row columns and per-batch constants come from the one declaration of the request's
# fields (ROW_FIELDS: every column a row may carry, everything else is ignored except the row
# key column; CONSTANT_FIELDS: values the operator may give once for every row, a row's own
# value wins).
from airflow_provider_altcraft.points_fields import (
    CONSTANT_FIELDS as CONSTANT_FIELDS,
)
from airflow_provider_altcraft.points_fields import (
    ROW_FIELDS as ROW_FIELDS,
)
from airflow_provider_altcraft.points_fields import request_fields
from airflow_provider_altcraft.validation import check_text

BatchOperation = Literal["redeem", "accrue", "by_sign"]
BATCH_OPERATIONS: tuple[str, ...] = ("redeem", "accrue", "by_sign")

#: Rows fetched per round trip from a SQL cursor.
SQL_FETCH_SIZE = 1000
#: Longest line read from a rows file (a row's external_data may be up to the 10 MiB request
#: limit); a longer line is refused, never held in memory whole.
MAX_LINE_BYTES = 11 * 1024 * 1024
#: Column name of problems that concern the whole row (it cannot be read, or is no object).
WHOLE_ROW = "(row)"


@dataclass(frozen=True)
class UnreadableRow:
    """A row of the input that cannot be read (not UTF-8, not JSON, not an object ...): it
    keeps its row number and becomes a :class:`RowProblem`, so the other rows are still
    checked and the report names it."""

    problem: str


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowSource:
    """Where the rows come from; :meth:`read` yields ``(row_number, row)`` and can be called
    again (each call re-reads the source).

    Row numbers start at 1 and count data rows (a CSV header is not a row). ``row_start`` /
    ``row_stop`` select the rows ``row_start <= number < row_stop`` (what :func:`chunk_rows`
    hands to mapped tasks).
    """

    rows: Sequence[Mapping[str, Any]] | None = None
    rows_file: str | None = None
    file_format: Literal["csv", "jsonl"] | None = None
    sql: str | None = None
    sql_conn_id: str | None = None
    sql_parameters: Mapping[str, Any] | Sequence[Any] | None = None
    row_start: int | None = None
    row_stop: int | None = None

    @classmethod
    def build(
        cls,
        *,
        rows: object = None,
        rows_file: object = None,
        rows_format: object = None,
        sql: object = None,
        sql_conn_id: object = None,
        sql_parameters: object = None,
        row_start: object = None,
        row_stop: object = None,
    ) -> RowSource:
        """Validate the input arguments of a batch operator (exactly one source)."""
        given = [name for name, value in (("rows", rows), ("rows_file", rows_file), ("sql", sql))
                 if value is not None]  # fmt: skip
        if len(given) != 1:
            raise AltcraftValidationError(
                "rows",
                "no input is given" if not given else f"several inputs are given ({given})",
                "pass exactly one of rows (a list of dicts), rows_file (CSV or JSON lines) "
                "or sql (with sql_conn_id)",
            )
        if isinstance(rows, str):
            rows = _rows_from_json(rows)  # Jinja renders a list to text unless native
        if rows is not None and (isinstance(rows, Mapping) or not isinstance(rows, Sequence)):
            raise AltcraftValidationError(
                "rows", f"type {type(rows).__name__} is not a list", "pass a list of dicts"
            )
        if sql is not None and (not isinstance(sql, str) or not isinstance(sql_conn_id, str)):
            raise AltcraftValidationError(
                "sql_conn_id", "is missing", "sql needs the id of an Airflow SQL connection"
            )
        path = None if rows_file is None else _rows_file_text(rows_file)
        return cls(
            rows=rows,  # type: ignore[arg-type]  # checked above: a sequence
            rows_file=path,
            file_format=None if path is None else _file_format(path, rows_format),
            sql=sql,  # type: ignore[arg-type]  # checked above: a str
            sql_conn_id=sql_conn_id if sql is not None else None,  # type: ignore[arg-type]
            sql_parameters=sql_parameters,  # type: ignore[arg-type]
            row_start=_optional_row_number(row_start, "row_start"),
            row_stop=_optional_row_number(row_stop, "row_stop"),
        )

    def describe(self) -> str:
        if self.rows is not None:
            where = f"a list of {len(self.rows)} rows"
        elif self.rows_file is not None:
            where = f"{self.file_format} file {storage.display(self.rows_file)}"
        else:
            where = f"SQL on connection {self.sql_conn_id!r}"
        if self.row_start is not None or self.row_stop is not None:
            where += f" (rows {self.row_start or 1} to {self.row_stop or 'end'}, stop excluded)"
        return where

    def read(self) -> Iterator[tuple[int, dict[str, Any] | UnreadableRow]]:
        start = self.row_start or 1
        for number, row in enumerate(self._read_all(), start=1):
            if number < start:
                continue
            if self.row_stop is not None and number >= self.row_stop:
                return
            yield number, row

    def _read_all(self) -> Iterator[dict[str, Any] | UnreadableRow]:
        if self.rows is not None:
            for row in self.rows:
                # The value itself is never quoted: it may hold personal data.
                yield (
                    row
                    if isinstance(row, dict)
                    else UnreadableRow(f"is a {type(row).__name__}, not an object")
                )
        elif self.rows_file is not None:
            yield from _read_file(self.rows_file, self.file_format or "csv")
        else:
            assert self.sql is not None and self.sql_conn_id is not None
            yield from _read_sql(self.sql_conn_id, self.sql, self.sql_parameters)


def _rows_from_json(text: str) -> object:
    import json

    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        raise AltcraftValidationError(
            "rows", "is a string that is not a JSON list", "pass a list of dicts"
        ) from None


def _rows_file_text(rows_file: object) -> str:
    """A rows file as text: a local path, or a URI (an ``ObjectStoragePath`` keeps its
    connection in the URI's user part)."""
    is_object_path = any(cls.__name__ == "ObjectStoragePath" for cls in type(rows_file).__mro__)
    if is_object_path:
        return str(rows_file)
    if isinstance(rows_file, (str, os.PathLike)):
        return str(os.fspath(rows_file))
    raise AltcraftValidationError(
        "rows_file",
        f"type {type(rows_file).__name__} is not a path",
        "pass a file path or an object-storage URI",
    )


def _file_format(path: str, rows_format: object) -> Literal["csv", "jsonl"]:
    if rows_format is None:
        # The suffixes of the file name only: a URI's query or bucket never counts.
        name = urlsplit(path).path if storage.is_remote(path) else path
        suffixes = [suffix.lower() for suffix in Path(name).suffixes]
        return "jsonl" if {".jsonl", ".ndjson", ".json"} & set(suffixes) else "csv"
    if rows_format not in ("csv", "jsonl"):
        raise AltcraftValidationError(
            "rows_format", f"{rows_format!r} is not a file format", "use 'csv' or 'jsonl'"
        )
    return rows_format  # type: ignore[return-value]  # checked just above


def _optional_row_number(value: object, parameter: str) -> int | None:
    if value is None:
        return None
    from airflow_provider_altcraft.validation import parse_positive_int

    return parse_positive_int(value, parameter)


def _read_file(path: str, file_format: str) -> Iterator[dict[str, Any] | UnreadableRow]:
    """The rows of a CSV or JSON lines file, read as bytes and decoded line by line, so a line
    that is not UTF-8 is reported with its number instead of ending the read."""
    if file_format == "jsonl":
        yield from _read_jsonl(path)
    else:
        yield from _read_csv(path)


def _line_reader(raw: IO[bytes]) -> IO[bytes]:
    """A stream whose ``readline(limit)`` works: local files and in-memory ones have it;
    fsspec's buffered remote files (S3, GCS ...) take no limit, so they are wrapped."""
    if isinstance(raw, (io.BufferedIOBase, io.RawIOBase)):
        return raw
    return io.BufferedReader(raw, buffer_size=1024 * 1024)  # type: ignore[arg-type,type-var]


def _lines(path: str) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` of a file; ``None`` for a line over :data:`MAX_LINE_BYTES`
    (its rest is skipped). A UTF-8 byte order mark is dropped."""
    with storage.open_for_reading(path, "rows_file") as opened:
        raw = _line_reader(opened)
        number = 0
        while True:
            data = raw.readline(MAX_LINE_BYTES)
            if not data:
                return
            number += 1
            if number == 1 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            if len(data) >= MAX_LINE_BYTES and not data.endswith(b"\n"):
                while (rest := raw.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                yield number, None
                continue
            yield number, data


def _not_utf8(number: int, data: bytes, exc: UnicodeDecodeError) -> str:
    return (
        f"line {number} is not valid UTF-8 text (byte 0x{data[exc.start]:02x} at position "
        f"{exc.start + 1}); save the file as UTF-8"
    )


def _too_long(number: int) -> str:
    return f"line {number} is longer than {MAX_LINE_BYTES} bytes"


def _read_jsonl(path: str) -> Iterator[dict[str, Any] | UnreadableRow]:
    import json

    for number, data in _lines(path):
        if data is None:
            yield UnreadableRow(_too_long(number))
            continue
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield UnreadableRow(_not_utf8(number, data, exc))
            continue
        if not line.strip():
            continue
        try:
            # parse_float=Decimal: a JSON number such as 10.5 stays exact.
            row = json.loads(line.rstrip("\r\n"), parse_float=Decimal)
        except json.JSONDecodeError as exc:
            yield UnreadableRow(
                f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})"
            )
            continue
        except RecursionError:
            yield UnreadableRow(f"line {number} is nested too deeply to be a row")
            continue
        except ValueError:  # e.g. an integer of more digits than Python converts
            yield UnreadableRow(f"line {number} is not valid JSON (a number is too long)")
            continue
        yield (
            row
            if isinstance(row, dict)
            else UnreadableRow(f"is a JSON {_json_type(row)}, not an object")
        )


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _read_csv(path: str) -> Iterator[dict[str, Any] | UnreadableRow]:
    import csv

    #: Problems of physical lines (not UTF-8, too long), by line number.
    bad_lines: dict[int, str] = {}
    accepted = "fix the file: save it as UTF-8 CSV with a header line"

    def text_lines() -> Iterator[str]:
        for number, data in _lines(path):
            if data is None:
                if number == 1:
                    raise AltcraftValidationError("rows_file", "the header " + _too_long(1),
                                                  accepted)  # fmt: skip
                bad_lines[number] = _too_long(number)
                yield "\n"
                continue
            try:
                yield data.decode("utf-8")
            except UnicodeDecodeError as exc:
                problem = _not_utf8(number, data, exc)
                if number == 1:
                    raise AltcraftValidationError(
                        "rows_file",
                        "the header line is not valid UTF-8 text" + problem.split("text", 1)[1],
                        accepted,
                    ) from None
                bad_lines[number] = problem
                yield data.decode("utf-8", errors="replace")

    reader = csv.reader(text_lines())
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise AltcraftValidationError(
            "rows_file", f"the header line cannot be read as CSV: {exc}", accepted
        ) from None
    row_number = 0
    while True:
        first_line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise AltcraftValidationError(
                "rows_file",
                f"row {row_number + 1} (line {reader.line_num}) cannot be read as CSV: {exc}",
                accepted,
            ) from None
        if not values:
            continue  # a blank line is no row (as csv.DictReader reads it)
        row_number += 1
        problems = [bad_lines.pop(n) for n in range(first_line, reader.line_num + 1)
                    if n in bad_lines]  # fmt: skip
        if problems:
            yield UnreadableRow(problems[0])
        elif len(values) > len(header):
            yield UnreadableRow(f"has {len(values)} fields, the header has {len(header)}")
        else:
            # An empty CSV field means "not given", as a missing key does.
            yield {key: value for key, value in zip(header, values, strict=False) if value != ""}


def _read_sql(
    conn_id: str, sql: str, parameters: Mapping[str, Any] | Sequence[Any] | None
) -> Iterator[dict[str, Any]]:
    """Rows of a query, fetched in pages so the whole result is never in memory."""
    from airflow_provider_altcraft.sql_source import query_pages, sql_hook

    hook = sql_hook(conn_id, "sql_conn_id")
    with query_pages(
        hook, sql, parameters, cursor_name="altcraft_batch_rows", page_rows=SQL_FETCH_SIZE
    ) as (columns, pages):
        for page in pages:
            for values in page:
                yield {k: v for k, v in zip(columns, values, strict=True) if v is not None}


# -- validation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    """Why one row cannot be sent (``column`` is the input column, after renaming)."""

    row_number: int
    column: str
    problem: str

    def __str__(self) -> str:
        return f"row {self.row_number}, column {self.column}: {self.problem}"


@dataclass(frozen=True)
class PreparedRow:
    """A valid row: the request to send (with its eid) and how the user identifies the row."""

    row_number: int
    row_key: str | None
    request: PointsRequest
    #: Looking the eid up before sending is needed: the eid may exist from an earlier run.
    eid_may_exist: bool


@dataclass
class RowSpec:
    """How rows become requests: the operation, constant values, renames and the eid rule.

    ``eid_scope`` is what makes derived eids unique: ``(dag_id, task_id)`` for keyed rows,
    and a per-task-instance uuid for rows identified by their position.
    """

    operation: BatchOperation
    constants: Mapping[str, Any]
    column_mapping: Mapping[str, str]
    row_key_column: str | None
    key_scope: str
    position_namespace: uuid.UUID
    _seen_eids: dict[int, int] = field(default_factory=dict)

    def prepare(
        self, row_number: int, raw: Mapping[str, Any] | UnreadableRow
    ) -> PreparedRow | list[RowProblem]:
        """The request of one row, or every problem found in it.

        Problems name the user's own input column (before ``column_mapping``), and a value
        that is empty (``""``, blank) reads as missing, so both get the same message.
        """
        if isinstance(raw, UnreadableRow):
            return [RowProblem(row_number, WHOLE_ROW, raw.problem)]
        row = {self.column_mapping.get(key, key): value for key, value in raw.items()}
        problems: list[RowProblem] = []
        values = {name: self.constants.get(name) for name in CONSTANT_FIELDS}
        values.update({name: row[name] for name in ROW_FIELDS if not _blank(row.get(name))})
        user_column = self._user_columns(raw, values)

        def problem(exc: AltcraftValidationError) -> None:
            text = exc.problem + (f"; {exc.accepted}" if exc.accepted else "")
            problems.append(RowProblem(row_number, user_column(exc.parameter), text))

        try:
            matching = Matching.from_values(values)
        except AltcraftValidationError as exc:
            problem(exc)
            matching = None
        try:
            operation, amount = self._operation_and_amount(values.get("amount"))
        except AltcraftValidationError as exc:
            problem(exc)
            operation, amount = "redeem", None
        row_key = None
        if self.row_key_column is not None:
            key_value = row.get(self.row_key_column)
            key_column = user_column(self.row_key_column)
            if key_value is None or str(key_value).strip() == "":
                problems.append(RowProblem(row_number, key_column, "the row key is empty"))
            else:
                row_key = str(key_value)
                try:
                    check_text(row_key, key_column)
                except AltcraftValidationError as exc:
                    problem(exc)
        if values["points_currency_iid"] is None and values["points_currency_eid"] is None:
            problems.append(
                RowProblem(
                    row_number,
                    user_column("points_currency_eid"),
                    "is missing, and exactly-once sending looks eids up in the member's "
                    "transactions of one currency; add a points_currency_eid column, pass "
                    "points_currency_eid to the operator, or set the connection's "
                    "default_points_currency_eid",
                )
            )
        if problems or matching is None or amount is None:
            return problems
        given_eid = values.get("transaction_eid")
        # The given eid (checked by build(): a string without control characters), else the
        # row key's, else the row position's (see airflow_provider_altcraft.eids).
        eid = row_eid(
            given_eid,
            row_key,
            key_scope=self.key_scope,
            namespace=self.position_namespace,
            row_number=row_number,
        )
        # A field the row and the constants leave empty takes its default (is_temp: False).
        arguments = {
            declared.name: declared.default if values.get(declared.name) is None
            else values[declared.name]
            for declared in request_fields(operation)
        }  # fmt: skip
        arguments.update(amount=amount, transaction_eid=eid)
        try:
            request = PointsRequest.build(operation, matching=matching, **arguments)
        except AltcraftValidationError as exc:
            problem(exc)
            return problems
        return PreparedRow(
            row_number=row_number,
            row_key=row_key,
            request=request,
            eid_may_exist=given_eid is not None or row_key is not None,
        )

    def check_unique(self, prepared: PreparedRow) -> RowProblem | None:
        """A second row with the same eid would be skipped as already present: refuse it.

        Only eids that come from the input (a key or an eid column) can repeat; the set holds
        8-byte hashes, about 100 bytes a row.
        """
        if not prepared.eid_may_exist:
            return None
        eid = prepared.request.transaction_eid or ""
        digest = int.from_bytes(uuid.uuid5(uuid.NAMESPACE_OID, eid).bytes[:8], "big")
        first = self._seen_eids.setdefault(digest, prepared.row_number)
        if first == prepared.row_number:
            return None
        column = "transaction_eid"
        if prepared.row_key is not None and self.row_key_column is not None:
            column = self.row_key_column
        return RowProblem(
            prepared.row_number,
            self._source_names().get(column, column),
            f"repeats the transaction of row {first}",
        )

    def _source_names(self) -> dict[str, str]:
        """The user's column of each renamed field (the first one mapped to it)."""
        names: dict[str, str] = {}
        for source, target in self.column_mapping.items():
            names.setdefault(target, source)
        return names

    def _user_columns(
        self, raw: Mapping[str, Any], values: Mapping[str, Any]
    ) -> Callable[[str], str]:
        """How a problem names a field: the user's column it came from (a renamed one
        included, present or missing), else the field's own name (a constant of the
        operator, or a column with that very name)."""
        present = {self.column_mapping.get(key, key): key for key in raw}
        mapped = self._source_names()

        def column(parameter: str) -> str:
            if parameter in present:
                return str(present[parameter])
            if parameter in mapped and self.constants.get(parameter) is None:
                return mapped[parameter]
            return parameter

        return column

    def _operation_and_amount(self, amount: object) -> tuple[PointsOperation, Decimal]:
        """The operation of a row and its (positive) amount; by_sign reads it from the sign
        (no padding around it: " -5" is refused, as " 5" is)."""
        from airflow_provider_altcraft.validation import parse_amount

        if self.operation != "by_sign":
            return self.operation, parse_amount(amount)
        if isinstance(amount, str) and amount.startswith("-"):
            return "redeem", parse_amount(amount[1:])
        if isinstance(amount, (int, Decimal)) and not isinstance(amount, bool) and amount < 0:
            return "redeem", parse_amount(-amount)
        if isinstance(amount, str) and amount.startswith("+"):
            amount = amount[1:]
        return "accrue", parse_amount(amount)


def _blank(value: object) -> bool:
    """Missing, or an empty or blank string: both read as "not given" (same message)."""
    return value is None or (isinstance(value, str) and not value.strip())


def validate_rows(
    source: RowSource, spec: RowSpec, on_problem: Callable[[RowProblem], None]
) -> tuple[int, int]:
    """One streaming pass over every row: returns ``(rows, valid rows)``."""
    rows = valid = 0
    for number, raw in source.read():
        rows += 1
        prepared = spec.prepare(number, raw)
        if isinstance(prepared, list):
            for found in prepared:
                on_problem(found)
            continue
        duplicate = spec.check_unique(prepared)
        if duplicate is not None:
            on_problem(duplicate)
            continue
        valid += 1
    return rows, valid


def valid_rows(source: RowSource, spec: RowSpec, skip: Iterable[int] = ()) -> Iterator[PreparedRow]:
    """The valid rows, read again from the source (rows numbered in ``skip`` are left out)."""
    skipped = set(skip)
    for number, raw in source.read():
        if number in skipped:
            continue
        prepared = spec.prepare(number, raw)
        if isinstance(prepared, PreparedRow):
            yield prepared


# -- scale-out ----------------------------------------------------------------------------------


def chunk_rows(
    rows: Sequence[Mapping[str, Any]] | None = None,
    *,
    rows_file: storage.StoragePath | None = None,
    rows_format: str | None = None,
    chunk_size: int = 1000,
) -> list[dict[str, Any]]:
    """Split a list or a file into chunks: one keyword-argument dict per mapped task.

    Use it with ``AltcraftBatchRedeemPointsOperator.partial(...).expand_kwargs(chunks)``. A
    list gives ``{"rows": [...]}`` chunks; a file gives ``{"rows_file": path, "row_start": a,
    "row_stop": b}`` ranges (the file is counted, not copied: every worker must see the path,
    e.g. an object-storage URI such as ``s3://aws_default@bucket/rows.csv``, or shared
    storage). Row numbers stay those of the whole input, so results and errors
    name the same rows whatever the chunk size.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise AltcraftValidationError(
            "chunk_size", f"{chunk_size!r} is not valid", "pass an int >= 1"
        )
    if (rows is None) == (rows_file is None):
        raise AltcraftValidationError(
            "rows", "pass exactly one of rows and rows_file", "a list of dicts or a file path"
        )
    if rows is not None:
        return [{"rows": list(rows[i : i + chunk_size])} for i in range(0, len(rows), chunk_size)]
    source = RowSource.build(rows_file=rows_file, rows_format=rows_format)
    total = sum(1 for _ in source.read())
    return [
        {"rows_file": source.rows_file, "row_start": start, "row_stop": start + chunk_size}
        for start in range(1, total + 1, chunk_size)
    ]
