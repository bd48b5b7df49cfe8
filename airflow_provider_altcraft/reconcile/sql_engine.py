"""The comparison in SQL for a columnar or server database (DuckDB, PostgreSQL).

Both sides are tables of texts (``altcraft``, ``warehouse``) loaded by the database's own CSV
reader. The per-value work that SQL dialects do differently is done once per distinct value
in Python and joined back: amount notations SQL does not parse (``1E+2``; rare), and the
types and states (a handful of distinct values: stripped, lower-cased and aliased exactly as
:func:`~airflow_provider_altcraft.reconcile.common.canonical_text` does). Everything else is
set-based SQL, so the rows never pass through Python and the differences stream back.
"""

from __future__ import annotations

import csv
import os
import queue
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
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
    PLAIN_AMOUNT,
    UTC_TIMESTAMP,
    amount_key,
    bindable,
    canonical_text,
    in_period,
    not_an_amount,
    period_bounds,
    report_row,
)

__all__ = ["NULL_MARKER", "SQLReconciler", "literal"]

_FIELDS = ("tid", "eid", "amount", "type", "state", "created_at")
#: The work tables (prefixed: in PostgreSQL temporary tables would hide the user's tables).
ALTCRAFT, WAREHOUSE = "altcraft_rc_altcraft", "altcraft_rc_warehouse"
PAIRS = "altcraft_rc_pairs"
IRREGULAR = "altcraft_rc_irregular"
DIFFERING = "altcraft_rc_differing"
CANDIDATES_A, CANDIDATES_W = "altcraft_rc_candidates_a", "altcraft_rc_candidates_w"
FOLDED = "altcraft_rc_folded"
KEYS, TYPES, STATES = "altcraft_rc_amount_keys", "altcraft_rc_type_map", "altcraft_rc_state_map"


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class SQLReconciler(BaseReconciler):
    """The shared algorithm; a subclass gives the database and its dialect."""

    #: "CREATE TABLE" or "CREATE TEMP TABLE".
    create = "CREATE TABLE"
    #: The loaded tables' row number (load order): DuckDB's rowid, or a serial column.
    rid = "rowid"
    rid_column = ""
    #: Where the engine's own scratch files go (None: the system's temporary directory).
    scratch: Path | None = None

    # -- the dialect ----------------------------------------------------------------------------

    def execute(self, sql: str, parameters: Any = None) -> None:
        raise NotImplementedError

    def fetchall(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        raise NotImplementedError

    def regex(self, text: str, pattern: str) -> str:
        """SQL: ``text`` matches ``pattern`` entirely."""
        raise NotImplementedError

    def trim(self, text: str) -> str:
        """SQL: ``text`` without leading and trailing :data:`WHITESPACE`."""
        raise NotImplementedError

    def binary(self, text: str) -> str:
        """SQL: ``text`` compared byte by byte (no locale collation)."""
        return text

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
        """Append to ``table`` (columns :data:`_FIELDS`) from a CSV of ``width`` columns named
        c0, c1, ...: ``select`` gives, per field, the column it reads (None: NULL), ``null`` the
        text read as NULL (also when quoted if ``quoted_nulls``); rows in file order, filtered by
        ``where`` (SQL on the c columns)."""
        raise NotImplementedError

    # -- loading ------------------------------------------------------------------------------

    def setup(self) -> None:
        for table in (ALTCRAFT, WAREHOUSE):
            self.execute(
                f"{self.create} {table} ({self.rid_column}tid VARCHAR, eid VARCHAR, "
                "amount VARCHAR, type VARCHAR, state VARCHAR, created_at VARCHAR, akey VARCHAR)"
            )
        self.execute(f"{self.create} {KEYS} (raw VARCHAR, akey VARCHAR)")

    def _id(self, column: str) -> str:
        """SQL: an id stripped, NULL when empty. Most ids start and end with a visible ASCII
        character: only the others go through the (slower) trim of every Unicode space."""
        first, last = self.binary(f"left({column}, 1)"), self.binary(f"right({column}, 1)")
        return (
            f"(CASE WHEN {first} BETWEEN '!' AND '~' AND {last} BETWEEN '!' AND '~' "
            f"THEN {column} ELSE NULLIF({self.trim(column)}, '') END)"
        )

    def _select(self, columns: Sequence[str | None]) -> list[str]:
        """Per field, the SQL reading it: ids stripped, the rest as read."""
        sql = []
        for field, column in zip(_FIELDS, columns, strict=True):
            if column is None:
                sql.append("NULL")
            elif field in ("tid", "eid"):
                sql.append(self._id(column))
            else:
                sql.append(column)
        return sql

    def insert_sql(
        self, table: str, select: Sequence[str], source: str, where: str = "TRUE", order: str = ""
    ) -> str:
        """SQL appending ``source``'s rows to ``table``: ``select`` gives the fields' SQL,
        and the amount key is computed on the way in: amount_key() in SQL for plain
        notations, step by step (each intermediate once); NULL for the others (keyed by
        :meth:`_check_amounts`)."""
        fields = ", ".join(f"{sql} AS {field}" for field, sql in zip(_FIELDS, select, strict=True))
        raw = f"SELECT {fields} FROM {source} WHERE {where} {order}"
        steps = f"""
            SELECT r.*, {self._plain("r.amount")} AS plain,
                   CASE WHEN r.amount LIKE '-%' THEN '-' ELSE '' END AS sign,
                   CASE WHEN r.amount LIKE '+%' OR r.amount LIKE '-%' THEN substr(r.amount, 2)
                        ELSE r.amount END AS body
              FROM ({raw}) AS r"""
        # Leading zeros off; with a point, trailing zeros and then the point off.
        digits = f"""
            SELECT s.*, CASE WHEN s.body LIKE '%.%'
                             THEN rtrim(rtrim(ltrim(s.body, '0'), '0'), '.')
                             ELSE ltrim(s.body, '0') END AS digits
              FROM ({steps}) AS s"""
        return f"""
            INSERT INTO {table} (tid, eid, amount, type, state, created_at, akey)
            SELECT tid, eid, amount, type, state, created_at,
                   CASE WHEN NOT plain THEN NULL WHEN digits = '' THEN '0'
                        ELSE sign || (CASE WHEN digits LIKE '.%' THEN '0' ELSE '' END) || digits
                   END
              FROM ({digits}) AS d"""

    def add_export(self, path: str | os.PathLike[str], period: ExportPeriod = None) -> int:
        header, positions = self._export_positions(path)
        names = ["transaction_id", "transaction_eid", "amount", "transaction_type", "status",
                 "created_at"]  # fmt: skip
        columns = [f"c{positions[n]}" if n in positions else None for n in names]
        bounds = period_bounds(period)
        where = "TRUE"
        if bounds is not None:
            created = columns[5]
            assert created is not None
            second = f"(substr({created}, 1, 10) || 'T' || substr({created}, 12, 8))"
            where = (
                f"({created} IS NULL OR NOT {self.regex(created, UTC_TIMESTAMP)} OR "
                f"({self.binary(second)} >= {literal(bounds[0])} AND "
                f"{self.binary(second)} < {literal(bounds[1])}))"
            )
        before = self._count(ALTCRAFT)
        try:
            self.load_csv(
                ALTCRAFT, path, width=len(header), select=self._select(columns), null="",
                header=True, where=where,
            )  # fmt: skip
        except Exception as native_error:
            self.recover()
            # The database's reader refused the file: Python's reader says why (one clear
            # ExportFormatError), or, if it reads the file (a blank line, a longer row, ...),
            # gives its rows to the database as a clean CSV.
            with tempfile.TemporaryDirectory(prefix="altcraft-export-", dir=self.scratch) as work:
                clean = Path(work) / "export.csv"
                with open(clean, "w", encoding="utf-8", newline="") as handle:
                    csv.writer(handle).writerows(
                        (tid, eid, amount, type_, state, created_at)
                        for tid, eid, amount, type_, created_at, state in iter_raw_columns(
                            path, REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS
                        )
                        if bounds is None or in_period(created_at, bounds)
                    )
                order = [f"c{i}" for i in range(6)]
                try:
                    self.load_csv(
                        ALTCRAFT, clean, width=6, select=self._select(order), null="",
                        header=False,
                    )  # fmt: skip
                except Exception:
                    self.recover()
                    raise native_error from None
        self._check_amounts(ALTCRAFT)
        return self._count(ALTCRAFT) - before

    def recover(self) -> None:
        """After a failed statement (PostgreSQL: roll back to usable)."""

    def analyze(self, table: str) -> None:
        """After loading ``table`` (PostgreSQL: gather the planner's statistics)."""

    def add_altcraft(self, rows: Iterable[Sequence[object]]) -> int:
        return self._add_rows(ALTCRAFT, bindable(rows, "Altcraft"))

    def add_warehouse(self, rows: Iterable[Sequence[object]]) -> int:
        return self._add_rows(WAREHOUSE, bindable(rows, "warehouse"))

    def _add_rows(self, table: str, rows: Iterable[Sequence[object]]) -> int:
        before = self._count(table)
        with tempfile.TemporaryDirectory(prefix="altcraft-rows-", dir=self.scratch) as work:
            path = Path(work) / "rows.csv"
            with open(path, "w", encoding="utf-8", newline="") as handle:
                csv.writer(handle).writerows(
                    [NULL_MARKER if value is None else value for value in row] for row in rows
                )
            columns = [f"c{i}" for i in range(6)]
            self.load_csv(
                table, path, width=6, select=self._select(columns), null=NULL_MARKER,
                header=False,
            )  # fmt: skip
        self._check_amounts(table)
        return self._count(table) - before

    def add_warehouse_sqlite(
        self,
        connection: sqlite3.Connection,
        sql: str,
        parameters: Any,
        columns: Sequence[str | None],
    ) -> int:
        """Load the result of ``sql`` on a SQLite warehouse: SQLite formats the values as the
        row path would (texts as stored, a REAL through Python's repr, NULL marked), batches
        of rows become CSV text in C (:mod:`.sqlite_csv`), and the database loads each file
        of rows in a second thread while this one reads the next from SQLite (the warehouse
        connection stays in the thread that opened it)."""
        from airflow_provider_altcraft.reconcile.sqlite_csv import write_csv_files

        before = self._count(WAREHOUSE)
        select = self._select([f"c{i}" for i in range(6)])
        files: queue.Queue[Path | None] = queue.Queue(maxsize=2)
        failure: list[BaseException] = []

        def load() -> None:
            while (path := files.get()) is not None:
                try:
                    if not failure:
                        self.load_csv(
                            WAREHOUSE, path, width=6, select=select, null=NULL_MARKER,
                            header=False,
                        )  # fmt: skip
                except BaseException as error:  # re-raised by the reading thread
                    failure.append(error)
                finally:
                    path.unlink(missing_ok=True)

        with tempfile.TemporaryDirectory(prefix="altcraft-rows-", dir=self.scratch) as work:
            loader = threading.Thread(target=load, name="altcraft-reconcile-load", daemon=True)
            loader.start()
            try:
                for path in write_csv_files(connection, sql, parameters, columns, Path(work)):
                    files.put(path)
                    if failure:
                        break
            finally:
                files.put(None)
                loader.join()
        if failure:
            raise failure[0]
        self._check_amounts(WAREHOUSE)
        return self._count(WAREHOUSE) - before

    def add_warehouse_csv(self, path: str | os.PathLike[str]) -> int:
        before = self._count(WAREHOUSE)
        columns = [f"c{i}" for i in range(6)]
        self.load_csv(
            WAREHOUSE, path, width=6, select=self._select(columns), null=NULL_MARKER,
            header=True, quoted_nulls=False,
        )  # fmt: skip
        self._check_amounts(WAREHOUSE)
        return self._count(WAREHOUSE) - before

    def _count(self, table: str) -> int:
        return int(self.fetchall(f"SELECT count(*) FROM {table}")[0][0])

    def _plain(self, text: str) -> str:
        return self.regex(text, PLAIN_AMOUNT)

    def _check_amounts(self, table: str) -> None:
        """Key the amounts SQL does not parse (in Python, once per distinct text); fail on the
        first row (in load order) whose amount is none. Called after each load."""
        self.analyze(table)
        rows = self.fetchall(
            f"SELECT DISTINCT amount FROM {table} WHERE akey IS NULL AND amount IS NOT NULL "
            f"AND amount NOT IN (SELECT raw FROM {KEYS})"
        )
        keys = [(raw, amount_key(raw)) for (raw,) in rows]
        valid = [(raw, key) for raw, key in keys if key is not None]
        if valid:
            values = ", ".join(f"({literal(raw)}, {literal(key)})" for raw, key in valid)
            self.execute(f"INSERT INTO {KEYS} (raw, akey) VALUES {values}")
        if rows:
            self.execute(
                f"UPDATE {table} SET akey = k.akey FROM {KEYS} AS k "
                f"WHERE {table}.akey IS NULL AND {table}.amount = k.raw"
            )
        invalid = self.fetchall(
            f"SELECT eid, tid, amount FROM {table} WHERE akey IS NULL ORDER BY {self.rid} LIMIT 1"
        )
        if invalid:
            eid, tid, amount = invalid[0]
            side = "Altcraft" if table == ALTCRAFT else "warehouse"
            raise ValueError(not_an_amount(side, eid or tid, amount))

    def _text_map(self, name: str, column: str, aliases: dict[str, str]) -> None:
        values = self.fetchall(
            f"SELECT DISTINCT {column} FROM {ALTCRAFT} WHERE {column} IS NOT NULL UNION "
            f"SELECT DISTINCT {column} FROM {WAREHOUSE} WHERE {column} IS NOT NULL"
        )
        self.execute(f"{self.create} {name} (raw VARCHAR, canonical VARCHAR)")
        pairs = [(raw, canonical_text(raw, aliases)) for (raw,) in values]
        for start in range(0, len(pairs), 1000):
            chunk = pairs[start : start + 1000]
            rows = ", ".join(
                f"({literal(raw)}, {'NULL' if canon is None else literal(canon)})"
                for raw, canon in chunk
            )
            self.execute(f"INSERT INTO {name} (raw, canonical) VALUES {rows}")

    def _keyed(self, table: str, where: str = "TRUE") -> str:
        """SQL: ``table``'s rows (``where``, on alias t) with the canonical type and state."""
        return f"""
            SELECT t.{self.rid} AS rid, t.tid, t.eid, t.amount, t.type, t.state, t.created_at,
                   t.akey, ty.canonical AS ctype, st.canonical AS cstate
              FROM {table} AS t
              LEFT JOIN {TYPES} AS ty ON ty.raw = t.type
              LEFT JOIN {STATES} AS st ON st.raw = t.state
             WHERE {where}"""

    def match(self) -> dict[str, int]:
        self._text_map(TYPES, "type", self.type_aliases)
        self._text_map(STATES, "state", self.state_aliases)
        group = "PARTITION BY eid, ctype, akey"
        # Exactly two rows with the same eid, type and amount: the earlier is folded. Only
        # the eids seen exactly twice are looked at.
        twice = (
            f"t.eid IN (SELECT eid FROM {ALTCRAFT} WHERE eid IS NOT NULL "
            "GROUP BY eid HAVING count(*) = 2)"
        )
        self.execute(
            f"""{self.create} {FOLDED} AS
            SELECT rid FROM (
              SELECT x.rid, count(*) OVER ({group}) AS group_rows,
                     row_number() OVER ({group} ORDER BY {self.binary("created_at")} DESC
                                        NULLS LAST, rid DESC) AS group_rank
                FROM ({self._keyed(ALTCRAFT, twice)}) AS x
            ) AS y
            WHERE group_rows = 2 AND group_rank = 2"""
        )
        self.committed_copies = self._count(FOLDED)
        rid = self.rid
        # The eids that are not exactly once on each side (missing, repeated): one hash
        # aggregation, which spills beyond the memory limit; the result is small. Every other
        # eid pairs its two rows by a plain equality join, never materialised.
        self.execute(
            f"""{self.create} {IRREGULAR} AS
            SELECT eid AS k FROM (
              SELECT a.eid, 1 AS na, 0 AS nw FROM {ALTCRAFT} AS a
               WHERE a.eid IS NOT NULL AND {self._unfolded("a.")}
              UNION ALL
              SELECT w.eid, 0 AS na, 1 AS nw FROM {WAREHOUSE} AS w WHERE w.eid IS NOT NULL
            ) AS u
            GROUP BY eid HAVING NOT (sum(na) = 1 AND sum(nw) = 1)"""
        )
        # The few rows left to pair: no eid, or an irregular one.
        for table, candidates, folded in (
            (ALTCRAFT, CANDIDATES_A, self._unfolded("t.")),
            (WAREHOUSE, CANDIDATES_W, "TRUE"),
        ):
            self.execute(
                f"""{self.create} {candidates} AS
                SELECT t.{rid} AS rid, t.tid, t.eid, t.amount, t.type, t.state, t.created_at,
                       t.akey
                  FROM {table} AS t
                 WHERE {folded} AND (t.eid IS NULL OR t.eid IN (SELECT k FROM {IRREGULAR}))"""
            )
        self._pair("eid", first=True)
        # Only the rows left unpaired are matched on the id.
        self._pair("tid", first=False)
        regular = self.fetchall(
            f"SELECT count(*) FROM {ALTCRAFT} AS a WHERE a.eid IS NOT NULL AND "
            f"{self._unfolded('a.')} AND a.eid NOT IN (SELECT k FROM {IRREGULAR})"
        )[0][0]
        return {
            "altcraft_rows": self._count(ALTCRAFT) - self.committed_copies,
            "warehouse_rows": self._count(WAREHOUSE),
            "matched": int(regular) + self._count(PAIRS),
            "committed_copies": self.committed_copies,
        }

    def _pair(self, column: str, *, first: bool) -> None:
        """Pair the candidate rows on ``column``: the k-th row of a value on one side with the
        k-th on the other (load order)."""
        by_id = "FALSE" if first else "TRUE"  # matched on the eid, else on the id
        a_rows = f"{CANDIDATES_A} AS a WHERE a.{column} IS NOT NULL"
        w_rows = f"{CANDIDATES_W} AS w WHERE w.{column} IS NOT NULL"
        if not first:
            a_rows += f" AND NOT EXISTS (SELECT 1 FROM {PAIRS} AS p WHERE p.a_rid = a.rid)"
            w_rows += f" AND NOT EXISTS (SELECT 1 FROM {PAIRS} AS p WHERE p.w_rid = w.rid)"
        pairs = f"""
            SELECT a.rid AS a_rid, w.rid AS w_rid, {by_id} AS by_id FROM
              (SELECT a.rid, a.{column} AS k,
                      row_number() OVER (PARTITION BY a.{column} ORDER BY a.rid) AS n
                 FROM {a_rows}) AS a
              JOIN
              (SELECT w.rid, w.{column} AS k,
                      row_number() OVER (PARTITION BY w.{column} ORDER BY w.rid) AS n
                 FROM {w_rows}) AS w
              ON a.k = w.k AND a.n = w.n"""
        if first:
            self.execute(f"{self.create} {PAIRS} AS {pairs}")
        else:
            self.execute(f"INSERT INTO {PAIRS} {pairs}")

    def _unfolded(self, alias: str = "") -> str:
        """SQL: an Altcraft row that is not a folded copy."""
        if not self.committed_copies:
            return "TRUE"
        return f"{alias}{self.rid} NOT IN (SELECT rid FROM {FOLDED})"

    def _warehouse_type(self, w: str) -> str:
        """The warehouse's type as read: its column, or the amount's sign."""
        if self.signed_amounts:
            return f"(CASE WHEN {w}.akey LIKE '-%' THEN 'redeem' ELSE 'accrual' END)"
        return f"{w}.type"

    def differences(self) -> Iterator[tuple[str | None, ...]]:
        for tid, eid, created_at, amount, type_, state in self.stream(
            f"SELECT tid, eid, created_at, amount, {self._warehouse_type('w')}, state "
            f"FROM {CANDIDATES_W} AS w WHERE NOT EXISTS "
            f"(SELECT 1 FROM {PAIRS} AS p WHERE p.w_rid = w.rid) ORDER BY w.rid"
        ):
            yield report_row(
                "missing_in_altcraft", None,
                (tid, eid, created_at, None, amount, None, type_, None, state),
            )  # fmt: skip
        for tid, eid, created_at, amount, type_, state in self.stream(
            f"SELECT tid, eid, created_at, amount, type, state FROM {CANDIDATES_A} AS a "
            f"WHERE NOT EXISTS (SELECT 1 FROM {PAIRS} AS p WHERE p.a_rid = a.rid) "
            "ORDER BY a.rid"
        ):
            yield report_row(
                "missing_in_warehouse", None,
                (tid, eid, created_at, amount, None, type_, None, state, None),
            )  # fmt: skip
        w_key = "ltrim(w.akey, '-')" if self.signed_amounts else "w.akey"
        w_type = self._warehouse_type("w")
        compare_state = self.state_compared
        # Pairs whose texts differ at all (one pass over plain columns); then, for those few,
        # the canonical types and states.
        differ = (
            f"(a.akey IS DISTINCT FROM {w_key} OR a.type IS DISTINCT FROM {w_type}"
            f"{' OR a.state IS DISTINCT FROM w.state' if compare_state else ''})"
        )
        shown = (
            f"a.tid, a.eid, a.created_at, a.amount AS a_amount, w.amount AS w_amount, "
            f"a.type AS a_type, {w_type} AS w_type, a.state AS a_state, w.state AS w_state, "
            f"a.akey IS DISTINCT FROM {w_key} AS amount_differs"
        )
        # The regular pairs whose texts differ, joined on what is compared only (a narrow
        # hash table); their other columns are then read for these few rows.
        rid = self.rid
        self.execute(f"DROP TABLE IF EXISTS {DIFFERING}")
        self.execute(
            f"""{self.create} {DIFFERING} AS
            SELECT a.rid AS a_rid, w.rid AS w_rid FROM
              (SELECT a.{rid} AS rid, a.eid, a.akey, a.type, a.state FROM {ALTCRAFT} AS a
                WHERE a.eid IS NOT NULL AND {self._unfolded("a.")}) AS a
              JOIN
              (SELECT w.{rid} AS rid, w.eid, w.akey, w.type, w.state
                 FROM {WAREHOUSE} AS w WHERE w.eid IS NOT NULL) AS w
              ON a.eid = w.eid
             WHERE NOT EXISTS (SELECT 1 FROM {IRREGULAR} AS r WHERE r.k = a.eid)
               AND {differ}"""
        )
        candidates = f"""
            SELECT d.a_rid, 'transaction_eid' AS matched_on, {shown}
              FROM {DIFFERING} AS d
              JOIN {ALTCRAFT} AS a ON a.{rid} = d.a_rid
              JOIN {WAREHOUSE} AS w ON w.{rid} = d.w_rid
            UNION ALL
            SELECT p.a_rid,
                   CASE WHEN p.by_id THEN 'transaction_id' ELSE 'transaction_eid' END, {shown}
              FROM {PAIRS} AS p
              JOIN {CANDIDATES_A} AS a ON a.rid = p.a_rid
              JOIN {CANDIDATES_W} AS w ON w.rid = p.w_rid
             WHERE {differ}"""
        w_canonical = "c.w_type" if self.signed_amounts else "tw.canonical"
        state_differs = "sa.canonical IS DISTINCT FROM sw.canonical" if compare_state else "FALSE"
        query = f"""
            SELECT matched_on, tid, eid, created_at, a_amount, w_amount, a_type, w_type,
                   a_state, w_state, amount_differs, type_differs, state_differs FROM (
              SELECT c.*, ta.canonical IS DISTINCT FROM {w_canonical} AS type_differs,
                     {state_differs} AS state_differs
                FROM ({candidates}) AS c
                LEFT JOIN {TYPES} AS ta ON ta.raw = c.a_type
                LEFT JOIN {TYPES} AS tw ON tw.raw = c.w_type
                LEFT JOIN {STATES} AS sa ON sa.raw = c.a_state
                LEFT JOIN {STATES} AS sw ON sw.raw = c.w_state
            ) AS d
            WHERE amount_differs OR type_differs OR state_differs
            ORDER BY a_rid
        """
        for matched_on, *values, amount_flag, type_flag, state_flag in self.stream(query):
            for name, differs in zip(
                DIFFERENCE_CLASSES[2:], (amount_flag, type_flag, state_flag), strict=True
            ):
                if differs:
                    yield report_row(name, matched_on, values)
