"""The dependency-free engine: both sides in a private SQLite file on disk.

Both sides are streamed into a scratch SQLite database (a temporary file, never the warehouse
itself), SQLite joins them with indexes, and only the differences come back, in a stream.
Python never holds either side: memory stays flat for millions of rows.

Speed: Python only moves values (the CSV's strings go to SQLite untouched); trimming,
aliasing and amount normalisation are SQL expressions, evaluated only where needed (equal
texts are equal values, so most pairs never normalise anything). Amounts are normalised as
exact text (sign, digits without leading or trailing zeros), never as floats or fixed-width
integers; notations SQL does not parse (``1E+2``, ``NaN``) go to :class:`decimal.Decimal`.
A SQLite warehouse is read by attaching this database to the warehouse's connection
(:meth:`SQLiteReconciler.add_warehouse_sqlite`): no row passes through Python.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.export.csv_reader import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    iter_raw_columns,
)
from airflow_provider_altcraft.reconcile.base import NULL_MARKER, BaseReconciler, ExportPeriod
from airflow_provider_altcraft.reconcile.common import (
    DIFFERENCE_CLASSES,
    WHITESPACE,
    amount_key,
    bindable,
    in_period,
    not_an_amount,
    period_bounds,
    report_row,
)

__all__ = ["SQLiteReconciler"]


def _text_sql(value: str) -> str:
    """SQL for Python's ``str(value).strip() or None`` on a text value."""
    return f"NULLIF(trim({value}, '{WHITESPACE}'), '')"


def _id_sql(value: str) -> str:
    """SQL for an id as the row path stores it: stripped, None when empty."""
    return f"NULLIF(trim({value}, '{WHITESPACE}'), '')"


def _plain_amount_sql(text: str) -> str:
    """SQL: ``text`` is [sign] digits [. digits], the notation SQL normalises itself."""
    return (
        f"({text} NOT GLOB '*[^-+0-9.]*' AND {text} GLOB '*[0-9]*' "
        f"AND {text} NOT GLOB '?*[-+]*' AND {text} NOT GLOB '*.*.*')"
    )


def _amount_key_sql(text: str) -> str:
    """SQL for :func:`amount_key`: plain notations in SQL, any other through Python."""
    body = f"(CASE WHEN {text} GLOB '[-+]*' THEN substr({text}, 2) ELSE {text} END)"
    # Leading zeros off; with a point, trailing zeros and then the point off.
    digits = (
        f"(CASE WHEN {body} GLOB '*.*' THEN rtrim(rtrim(ltrim({body}, '0'), '0'), '.') "
        f"ELSE ltrim({body}, '0') END)"
    )
    return (
        f"(CASE WHEN NOT {_plain_amount_sql(text)} THEN altcraft_amount_key({text}) "
        f"WHEN {digits} = '' THEN '0' "
        f"ELSE (CASE WHEN {text} GLOB '-*' THEN '-' ELSE '' END) "
        f"|| (CASE WHEN {digits} GLOB '.*' THEN '0' ELSE '' END) || {digits} END)"
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _canonical_sql(value: str, aliases: Mapping[str, str]) -> str:
    """SQL for ``aliases.get(lower(stripped), lower(stripped)) or None``."""
    text = _text_sql(value)
    # SQLite's lower() only knows ASCII: other texts are lowered by Python.
    lower = f"(CASE WHEN {text} GLOB '*[^ -~]*' THEN altcraft_lower({text}) ELSE lower({text}) END)"
    cases = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in aliases.items())
    return f"NULLIF(CASE {lower} {cases} ELSE {lower} END, '')" if cases else lower


def _differs_sql(altcraft: str, warehouse: str, canonical: Callable[[str], str]) -> str:
    """SQL: the values differ once made ``canonical``. Equal texts are equal values: most
    pairs never compute the canonical form."""
    return (
        f"({altcraft} IS NOT {warehouse} AND {canonical(altcraft)} IS NOT {canonical(warehouse)})"
    )


# Values are stored as read (text; the report strips them), except the ids: they are
# matched on, so they come stripped (by Python: cheaper than an SQL function call).
_COLUMNS = (
    "rid INTEGER PRIMARY KEY, tid TEXT, eid TEXT, amount TEXT, type TEXT, state TEXT, "
    "created_at TEXT"
)
_INSERT = (
    "INSERT INTO {table} (tid, eid, amount, type, state, created_at) "
    "VALUES (NULLIF(?1, ''), NULLIF(?2, ''), {amount}, ?4, ?5, ?6)"
)
_PAIR = """
INSERT INTO pairs (a_rid, w_rid, matched_on)
SELECT a.rid, w.rid, '{key}' FROM
  (SELECT rid, {column} AS k, row_number() OVER (PARTITION BY {column} ORDER BY rid) AS n
     FROM altcraft WHERE {column} IS NOT NULL {unpaired_a}) AS a
  JOIN
  (SELECT rid, {column} AS k, row_number() OVER (PARTITION BY {column} ORDER BY rid) AS n
     FROM warehouse WHERE {column} IS NOT NULL {unpaired_w}) AS w
  ON a.k = w.k AND a.n = w.n
"""
#: The attached scratch database's name in a warehouse connection.
_SCRATCH = "altcraft_reconcile_scratch"


class SQLiteReconciler(BaseReconciler):
    """The SQLite engine. The database file at ``path`` is created (it must not exist) and
    removed on exit."""

    engine = "sqlite"

    def __init__(self, path: str | Path, **options: Any) -> None:
        super().__init__(**options)
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        # A scratch database: no journal, no fsync; sorts spill to disk, not to memory.
        for pragma in (
            "journal_mode = OFF",
            "synchronous = OFF",
            "temp_store = FILE",
            "cache_size = -65536",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        for name, function in (("altcraft_amount_key", amount_key), ("altcraft_lower", _lower)):
            self.db.create_function(name, 1, function, deterministic=True)
        self.db.execute(f"CREATE TABLE altcraft ({_COLUMNS})")
        self.db.execute(f"CREATE TABLE warehouse ({_COLUMNS})")
        self.db.execute(
            "CREATE TABLE pairs (a_rid INTEGER PRIMARY KEY, w_rid INTEGER UNIQUE, matched_on TEXT)"
        )

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)

    # -- loading ------------------------------------------------------------------------------

    def add_export(self, path: str | os.PathLike[str], period: ExportPeriod = None) -> int:
        self._export_positions(path)
        bounds = period_bounds(period)

        def rows() -> Iterator[tuple[str, ...]]:
            # The CSV's strings go to SQLite as read, the ids stripped.
            for tid, eid, amount, type_, created_at, state in iter_raw_columns(
                path, REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS
            ):
                if bounds is None or in_period(created_at, bounds):
                    yield tid.strip(), eid.strip(), amount, type_, state, created_at

        # An empty CSV field is no amount (None, as the warehouse's NULL).
        return self._load(
            "altcraft", _INSERT.format(table="altcraft", amount="NULLIF(?3, '')"), rows()
        )

    def add_altcraft(self, rows: Iterable[Sequence[object]]) -> int:
        return self._load(
            "altcraft", _INSERT.format(table="altcraft", amount="?3"), bindable(rows, "Altcraft")
        )

    def add_warehouse(self, rows: Iterable[Sequence[object]]) -> int:
        return self._load(
            "warehouse",
            _INSERT.format(table="warehouse", amount="?3"),
            bindable(rows, "warehouse"),
        )

    def add_warehouse_csv(self, path: str | os.PathLike[str]) -> int:
        def rows() -> Iterator[list[str | None]]:
            with open(path, encoding="utf-8", newline="") as handle:
                reader = csv.reader(handle)
                next(reader, None)
                for row in reader:
                    yield [None if value == NULL_MARKER else value for value in row]

        return self._load("warehouse", _INSERT.format(table="warehouse", amount="?3"), rows())

    def add_warehouse_sqlite(
        self,
        connection: sqlite3.Connection,
        sql: str,
        parameters: Any,
        columns: Sequence[str | None],
    ) -> int:
        """Load the result of ``sql`` on a SQLite warehouse connection without Python
        touching the rows: this database is attached to ``connection`` for one INSERT ...
        SELECT. ``columns``: the result's columns in :class:`TransactionRow` order (None for
        a field the warehouse lacks)."""
        before = self._count("warehouse")

        def value(column: str | None) -> str:
            if column is None:
                return "NULL"
            quoted = '"' + column.replace('"', '""') + '"'
            # As the row path stores them: texts as read; numbers as their text.
            ref = f"q.{quoted}"
            return (
                f"(CASE WHEN typeof({ref}) = 'real' THEN altcraft_real({ref}) "
                f"ELSE CAST({ref} AS TEXT) END)"
            )

        tid, eid, amount, type_, state, created_at = (value(c) for c in columns)
        connection.create_function("altcraft_real", 1, repr, deterministic=True)
        connection.execute(f"ATTACH DATABASE ? AS {_SCRATCH}", (str(self.path),))
        try:
            connection.execute(
                f"INSERT INTO {_SCRATCH}.warehouse (tid, eid, amount, type, state, created_at) "
                f"SELECT {_id_sql(tid)}, {_id_sql(eid)}, {amount}, {type_}, "
                f"{state}, {created_at} FROM ({sql.strip().rstrip(';')}) AS q",
                () if parameters is None else parameters,
            )
            connection.commit()
        finally:
            connection.execute(f"DETACH DATABASE {_SCRATCH}")
        self._check_amounts("warehouse")
        return self._count("warehouse") - before

    def _load(self, table: str, insert: str, rows: Iterable[Sequence[object]]) -> int:
        before = self._count(table)
        self.db.execute("BEGIN")
        self.db.executemany(insert, rows)
        self.db.execute("COMMIT")
        self._check_amounts(table)
        return self._count(table) - before

    def _check_amounts(self, table: str) -> None:
        invalid = self.db.execute(
            f"SELECT eid, tid, amount FROM {table} WHERE amount IS NULL "
            f"OR (NOT {_plain_amount_sql('amount')} AND altcraft_amount_key(amount) IS NULL) "
            "ORDER BY rid LIMIT 1"
        ).fetchone()
        if invalid is not None:
            eid, tid, amount = invalid
            side = "Altcraft" if table == "altcraft" else "warehouse"
            raise ValueError(not_an_amount(side, eid or tid, amount))

    def _count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    # -- matching -----------------------------------------------------------------------------

    def match(self) -> dict[str, int]:
        self.db.execute("BEGIN")
        for table in ("altcraft", "warehouse"):
            # Built after loading (one sort, not a B-tree grown row by row); it gives the eid
            # window its order, so the pairing needs no sort of its own.
            self.db.execute(f"CREATE INDEX {table}_eid ON {table} (eid, rid)")
        self.committed_copies = self._fold_committed_copies()
        self.db.execute(
            _PAIR.format(key="transaction_eid", column="eid", unpaired_a="", unpaired_w="")
        )
        # Only the few rows left unpaired are matched on the id: no index over all rows.
        self.db.execute(
            _PAIR.format(
                key="transaction_id",
                column="tid",
                unpaired_a="AND rid NOT IN (SELECT a_rid FROM pairs)",
                unpaired_w="AND rid NOT IN (SELECT w_rid FROM pairs)",
            )
        )
        self.db.execute("COMMIT")
        return {
            "altcraft_rows": self._count("altcraft"),
            "warehouse_rows": self._count("warehouse"),
            "matched": self._count("pairs"),
            "committed_copies": self.committed_copies,
        }

    def _fold_committed_copies(self) -> int:
        """Delete the earlier of exactly two Altcraft rows with the same eid, type and amount
        (a temporary transaction and its committed copy). Only eids seen twice are looked at."""
        group = (
            f"PARTITION BY eid, {_canonical_sql('type', self.type_aliases)}, "
            f"{_amount_key_sql('amount')}"
        )
        cursor = self.db.execute(
            f"""
            DELETE FROM altcraft WHERE rid IN (
              SELECT rid FROM (
                SELECT rid, count(*) OVER ({group}) AS n,
                       row_number() OVER ({group} ORDER BY created_at DESC NULLS LAST, rid DESC)
                         AS k
                  FROM altcraft
                 WHERE eid IN (SELECT eid FROM altcraft WHERE eid IS NOT NULL
                                GROUP BY eid HAVING count(*) = 2)
              ) WHERE n = 2 AND k = 2)
            """
        )
        return max(cursor.rowcount, 0)

    def _warehouse_type_sql(self, w: str) -> str:
        """The warehouse's type as read: its column, or the amount's sign."""
        if not self.signed_amounts:
            return f"{w}.type"
        # A text starting with a digit, "+" or "." is not negative: no need to normalise it.
        negative = f"{w}.amount NOT GLOB '[0-9+.]*' AND {_amount_key_sql(f'{w}.amount')} GLOB '-*'"
        return f"(CASE WHEN {negative} THEN 'redeem' ELSE 'accrual' END)"

    def differences(self) -> Iterator[tuple[str | None, ...]]:
        for tid, eid, created_at, amount, type_, state in self.db.execute(
            f"SELECT tid, eid, created_at, amount, {self._warehouse_type_sql('w')}, state "
            "FROM warehouse AS w WHERE rid NOT IN (SELECT w_rid FROM pairs) ORDER BY rid"
        ):
            yield report_row(
                "missing_in_altcraft", None,
                (tid, eid, created_at, None, amount, None, type_, None, state),
            )  # fmt: skip
        for tid, eid, created_at, amount, type_, state in self.db.execute(
            "SELECT tid, eid, created_at, amount, type, state FROM altcraft "
            "WHERE rid NOT IN (SELECT a_rid FROM pairs) ORDER BY rid"
        ):
            yield report_row(
                "missing_in_warehouse", None,
                (tid, eid, created_at, amount, None, type_, None, state, None),
            )  # fmt: skip
        w_type = self._warehouse_type_sql("w")
        if self.signed_amounts:
            # Absolute values; equal texts without a possible minus sign are equal.
            amount_differs = (
                f"((a.amount IS NOT w.amount OR w.amount NOT GLOB '[0-9+.]*') AND "
                f"{_amount_key_sql('a.amount')} IS NOT ltrim({_amount_key_sql('w.amount')}, '-'))"
            )
        else:
            amount_differs = _differs_sql("a.amount", "w.amount", _amount_key_sql)
        types = partial(_canonical_sql, aliases=self.type_aliases)
        states = partial(_canonical_sql, aliases=self.state_aliases)
        state_differs = _differs_sql("a.state", "w.state", states) if self.state_compared else "0"
        # Pairs in a_rid order (their primary key): no sort. SQLite reads the flags' aliases
        # in WHERE, so each flag is written once.
        query = f"""
            SELECT p.matched_on, a.tid, a.eid, a.created_at, a.amount, w.amount, a.type,
                   {w_type}, a.state, w.state,
                   {amount_differs} AS amount_differs,
                   {_differs_sql("a.type", w_type, types)} AS type_differs,
                   {state_differs} AS state_differs
              FROM pairs AS p
              JOIN altcraft AS a ON a.rid = p.a_rid
              JOIN warehouse AS w ON w.rid = p.w_rid
             WHERE amount_differs OR type_differs OR state_differs
             ORDER BY p.a_rid
        """
        for matched_on, *values, amount_flag, type_flag, state_flag in self.db.execute(query):
            for name, differs in zip(
                DIFFERENCE_CLASSES[2:], (amount_flag, type_flag, state_flag), strict=True
            ):
                if differs:
                    yield report_row(name, matched_on, values)
