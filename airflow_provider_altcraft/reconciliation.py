"""Compare two streams of points transactions with bounded memory.

Both sides are streamed into a private SQLite database on disk (a temporary file, never the
warehouse itself), SQLite joins them with indexes, and only the differences come back, in a
stream. Python never holds either side: memory stays flat for millions of rows.

Matching: first on ``transaction_eid`` (rows where both sides have one), then the rows still
unmatched on ``transaction_id``. An eid that appears twice on one side pairs its k-th
occurrence with the other side's k-th, so a duplicate shows up as a missing transaction.

Comparing: amounts as decimals (``"100.5"`` equals ``"100.50"``), types and states after
aliasing (``accrue`` = ``accrual``; ``committed`` = ``active``, both "counted in the balance").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType

from airflow_provider_altcraft.export_csv import REQUIRED_COLUMNS, iter_columns

__all__ = [
    "DEFAULT_STATE_ALIASES",
    "DEFAULT_TYPE_ALIASES",
    "DIFFERENCE_CLASSES",
    "REPORT_COLUMNS",
    "Reconciler",
    "TransactionRow",
    "canonical_amount",
    "iter_export_rows",
]

DIFFERENCE_CLASSES = (
    "missing_in_altcraft",
    "missing_in_warehouse",
    "amount_differs",
    "type_differs",
    "state_differs",
)
#: Columns of the report, one row per difference (a transaction may have several).
REPORT_COLUMNS = (
    "difference",
    "matched_on",
    "transaction_id",
    "transaction_eid",
    "created_at",
    "altcraft_amount",
    "warehouse_amount",
    "altcraft_type",
    "warehouse_type",
    "altcraft_state",
    "warehouse_state",
)
#: Lower-cased type values → Altcraft's ``transaction_type``.
DEFAULT_TYPE_ALIASES: Mapping[str, str] = {
    "accrue": "accrual",
    "accrual": "accrual",
    "redeem": "redeem",
    "redemption": "redeem",
}
#: Lower-cased state values → one canonical state. ``committed`` (a temporary transaction
#: made permanent) counts in the balance exactly like ``active``.
DEFAULT_STATE_ALIASES: Mapping[str, str] = {
    "committed": "active",
    "canceled": "cancelled",
}


@dataclass(frozen=True)
class TransactionRow:
    """One side's view of a transaction, as read (amount: Decimal, int, float or string)."""

    transaction_id: str | None
    transaction_eid: str | None
    amount: object
    transaction_type: str | None
    state: str | None
    created_at: str | None = None


def iter_export_rows(path: str, period: tuple[date, date]) -> Iterator[TransactionRow]:
    """The export's transactions created within ``period`` (a wider file is narrowed)."""
    first, last = period[0].isoformat(), period[1].isoformat()
    for tid, eid, amount, type_, status, created_at in iter_columns(path, REQUIRED_COLUMNS):
        # created_at is RFC3339 UTC ("2024-09-01T10:00:00Z"): its date is the first 10 chars.
        if created_at is not None and not first <= created_at[:10] <= last:
            continue
        yield TransactionRow(tid, eid, amount, type_, status, created_at)


def canonical_amount(value: object) -> Decimal:
    """An amount as an exact Decimal. A float (a REAL column) is read through its shortest
    repr, so ``100.5`` stays ``100.5``."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not an amount")
    try:
        return Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None


def _amount_key(amount: Decimal) -> str:
    """Equal strings exactly for equal amounts ("100.50" and "100.5" → "100.5")."""
    return format(amount.normalize(), "f") if amount else "0"


def _alias(value: str | None, aliases: Mapping[str, str]) -> str | None:
    if value is None:
        return None
    key = str(value).strip().lower()
    return aliases.get(key, key) or None


_COLUMNS = (
    "rid INTEGER PRIMARY KEY, tid TEXT, eid TEXT, amount TEXT, amount_raw TEXT, "
    "type TEXT, type_raw TEXT, state TEXT, state_raw TEXT, created_at TEXT"
)
_PAIR = """
INSERT INTO pairs (a_rid, w_rid, matched_on)
SELECT a.rid, w.rid, '{key}' FROM
  (SELECT rid, {column} AS k, row_number() OVER (PARTITION BY {column} ORDER BY rid) AS n
     FROM altcraft WHERE {column} IS NOT NULL AND rid NOT IN (SELECT a_rid FROM pairs)) AS a
  JOIN
  (SELECT rid, {column} AS k, row_number() OVER (PARTITION BY {column} ORDER BY rid) AS n
     FROM warehouse WHERE {column} IS NOT NULL AND rid NOT IN (SELECT w_rid FROM pairs)) AS w
  ON a.k = w.k AND a.n = w.n
"""
_ROW = "tid, eid, created_at, amount_raw, type_raw, state_raw"


class Reconciler:
    """Loads both sides, matches them, and streams the differences.

    Use as a context manager; the database file at ``path`` is created (it must not exist)
    and removed on exit.

    :param signed_amounts: the warehouse has no type: a negative amount is a redemption, a
        positive one an accrual (compared as absolute values).
    :param compare_state: False when the warehouse records no state.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        type_aliases: Mapping[str, str] | None = None,
        state_aliases: Mapping[str, str] | None = None,
        signed_amounts: bool = False,
        compare_state: bool = True,
    ) -> None:
        self.path = Path(path)
        self.type_aliases = {**DEFAULT_TYPE_ALIASES, **_lower_keys(type_aliases)}
        self.state_aliases = {**DEFAULT_STATE_ALIASES, **_lower_keys(state_aliases)}
        self.signed_amounts = signed_amounts
        self.compare_state = compare_state
        self.db = sqlite3.connect(self.path, isolation_level=None)
        # A scratch database: no journal, no fsync; sorts spill to disk, not to memory.
        for pragma in (
            "journal_mode = OFF",
            "synchronous = OFF",
            "temp_store = FILE",
            "cache_size = -65536",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute(f"CREATE TABLE altcraft ({_COLUMNS})")
        self.db.execute(f"CREATE TABLE warehouse ({_COLUMNS})")
        self.db.execute(
            "CREATE TABLE pairs (a_rid INTEGER PRIMARY KEY, w_rid INTEGER UNIQUE, matched_on TEXT)"
        )

    def __enter__(self) -> Reconciler:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)

    # -- loading ------------------------------------------------------------------------------

    def add_altcraft(self, rows: Iterable[TransactionRow]) -> int:
        """Load Altcraft's transactions; returns how many."""
        return self._load("altcraft", (self._record(row, "Altcraft", False) for row in rows))

    def add_warehouse(self, rows: Iterable[TransactionRow]) -> int:
        """Load the warehouse's transactions; returns how many."""
        return self._load(
            "warehouse", (self._record(row, "warehouse", self.signed_amounts) for row in rows)
        )

    def _load(self, table: str, records: Iterable[tuple[object, ...]]) -> int:
        before = self._count(table)
        self.db.execute("BEGIN")
        self.db.executemany(
            f"INSERT INTO {table} (tid, eid, amount, amount_raw, type, type_raw, state, "
            "state_raw, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            records,
        )
        self.db.execute("COMMIT")
        return self._count(table) - before

    def _record(self, row: TransactionRow, side: str, signed: bool) -> tuple[object, ...]:
        tid = _text(row.transaction_id)
        eid = _text(row.transaction_eid)
        try:
            amount = canonical_amount(row.amount)
        except ValueError as exc:
            raise ValueError(
                f"{side} transaction {eid or tid}: amount {exc}; use a decimal column"
            ) from None
        type_raw = _text(row.transaction_type)
        if signed:
            type_raw = "redeem" if amount < 0 else "accrual"
            amount = abs(amount)
        state_raw = _text(row.state)
        return (
            tid,
            eid,
            _amount_key(amount),
            str(row.amount),
            _alias(type_raw, self.type_aliases),
            type_raw,
            _alias(state_raw, self.state_aliases),
            state_raw,
            _text(row.created_at),
        )

    def _count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    # -- matching -----------------------------------------------------------------------------

    def match(self) -> dict[str, int]:
        """Pair the rows (eid first, then transaction id); returns row and pair counts."""
        self.db.execute("BEGIN")
        for column, key in (("eid", "transaction_eid"), ("tid", "transaction_id")):
            for table in ("altcraft", "warehouse"):
                self.db.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_{column} ON {table} ({column}, rid)"
                )
            self.db.execute(_PAIR.format(key=key, column=column))
        self.db.execute("COMMIT")
        return {
            "altcraft_rows": self._count("altcraft"),
            "warehouse_rows": self._count("warehouse"),
            "matched": self._count("pairs"),
        }

    def differences(self) -> Iterator[tuple[str | None, ...]]:
        """Report rows (see :data:`REPORT_COLUMNS`), class by class; call after match()."""
        for row in self.db.execute(
            f"SELECT {_ROW} FROM warehouse WHERE rid NOT IN (SELECT w_rid FROM pairs) ORDER BY rid"
        ):
            tid, eid, created_at, amount, type_raw, state_raw = row
            yield ("missing_in_altcraft", None, tid, eid, created_at,
                   None, amount, None, type_raw, None, state_raw)  # fmt: skip
        for row in self.db.execute(
            f"SELECT {_ROW} FROM altcraft WHERE rid NOT IN (SELECT a_rid FROM pairs) ORDER BY rid"
        ):
            tid, eid, created_at, amount, type_raw, state_raw = row
            yield ("missing_in_warehouse", None, tid, eid, created_at,
                   amount, None, type_raw, None, state_raw, None)  # fmt: skip
        state_test = "OR a.state IS NOT w.state" if self.compare_state else ""
        query = f"""
            SELECT p.matched_on, a.tid, a.eid, a.created_at,
                   a.amount_raw, w.amount_raw, a.type_raw, w.type_raw, a.state_raw, w.state_raw,
                   a.amount IS NOT w.amount, a.type IS NOT w.type, a.state IS NOT w.state
              FROM pairs AS p
              JOIN altcraft AS a ON a.rid = p.a_rid
              JOIN warehouse AS w ON w.rid = p.w_rid
             WHERE a.amount IS NOT w.amount OR a.type IS NOT w.type {state_test}
             ORDER BY a.rid
        """
        for row in self.db.execute(query):
            *values, amount_differs, type_differs, state_differs = row
            flags = (amount_differs, type_differs, state_differs and self.compare_state)
            for name, differs in zip(DIFFERENCE_CLASSES[2:], flags, strict=True):
                if differs:
                    yield (name, *values)


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _lower_keys(aliases: Mapping[str, str] | None) -> dict[str, str]:
    return {
        str(key).strip().lower(): str(value).strip().lower()
        for key, value in (aliases or {}).items()
    }
