"""Compare two streams of points transactions with bounded memory.

Both sides are streamed into a private SQLite database on disk (a temporary file, never the
warehouse itself), SQLite joins them with indexes, and only the differences come back, in a
stream. Python never holds either side: memory stays flat for millions of rows.

Matching: first on ``transaction_eid`` (rows where both sides have one), then the rows still
unmatched on ``transaction_id``. An eid that appears twice on one side pairs its k-th
occurrence with the other side's k-th, so a duplicate shows up as a missing transaction.

Comparing: amounts as exact decimals (``"100.5"`` equals ``"100.50"``), types and states after
aliasing (``accrue`` = ``accrual``; ``committed`` = ``active``, both "counted in the balance").

Speed: Python only moves values (the CSV's strings go to SQLite untouched); trimming,
aliasing and amount normalisation are SQL expressions, evaluated only where needed (equal
texts are equal values, so most pairs never normalise anything). Amounts are normalised as
exact text (sign, digits without leading or trailing zeros), never as floats or fixed-width
integers; notations SQL does not parse (``1E+2``, ``NaN``) go to :class:`decimal.Decimal`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from airflow_provider_altcraft.export_csv import REQUIRED_COLUMNS, iter_raw_columns

__all__ = [
    "DEFAULT_STATE_ALIASES",
    "DEFAULT_TYPE_ALIASES",
    "DIFFERENCE_CLASSES",
    "REPORT_COLUMNS",
    "Reconciler",
    "TransactionRow",
    "amount_key",
    "canonical_amount",
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


class TransactionRow(NamedTuple):
    """One side's view of a transaction, as read (amount: Decimal, int, float or string).

    Any 6-sequence in this order works where rows are loaded (e.g. a driver's tuple).
    """

    transaction_id: object
    transaction_eid: object
    amount: object
    transaction_type: object
    state: object
    created_at: object = None


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


def amount_key(text: str | None) -> str | None:
    """Equal strings exactly for equal amounts (``"100.50"``, ``"1.005E+2"`` → ``"100.5"``),
    None for a text that is not an amount. Exact at any size (no context rounding).

    The SQL expression :func:`_amount_key_sql` gives the same strings for plain notations."""
    if text is None:
        return None
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None if amount.is_snan() else format(amount, "f")  # "NaN", "-Infinity"
    plain = format(amount, "f")  # no exponent, every digit kept
    negative = plain.startswith("-")
    digits = plain.lstrip("-")
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    digits = digits.lstrip("0")
    if not digits:
        return "0"
    digits = "0" + digits if digits.startswith(".") else digits
    return "-" + digits if negative else digits


#: What Python's str.strip() removes (every str.isspace() character), for SQL's trim().
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _text_sql(value: str) -> str:
    """SQL for Python's ``str(value).strip() or None`` on a text value."""
    return f"NULLIF(trim({value}, '{_WHITESPACE}'), '')"


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
        for name, function in (("altcraft_amount_key", amount_key), ("altcraft_lower", _lower)):
            self.db.create_function(name, 1, function, deterministic=True)
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

    def add_export(self, path: str | os.PathLike[str], period: tuple[date, date]) -> int:
        """Load Altcraft's transactions from an export CSV, those created within ``period``
        (a wider file is narrowed); returns how many."""
        first, last = (day.isoformat() for day in period)

        def rows() -> Iterator[tuple[str, ...]]:
            # The CSV's strings go to SQLite as read, the ids stripped. created_at is RFC3339
            # UTC ("2024-09-01T10:00:00Z"): its date is the first 10 characters.
            for tid, eid, amount, type_, state, created_at in iter_raw_columns(
                path, REQUIRED_COLUMNS
            ):
                if not created_at or first <= created_at[:10] <= last:
                    yield tid.strip(), eid.strip(), amount, type_, state, created_at

        # An empty CSV field is no amount (None, as the warehouse's NULL).
        return self._load(
            "altcraft", _INSERT.format(table="altcraft", amount="NULLIF(?3, '')"), rows()
        )

    def add_altcraft(self, rows: Iterable[Sequence[object]]) -> int:
        """Load Altcraft's transactions (:class:`TransactionRow` order); returns how many."""
        return self._load(
            "altcraft", _INSERT.format(table="altcraft", amount="?3"), _bindable(rows, "Altcraft")
        )

    def add_warehouse(self, rows: Iterable[Sequence[object]]) -> int:
        """Load the warehouse's transactions (:class:`TransactionRow` order, any values a
        DB-API driver returns); returns how many."""
        return self._load(
            "warehouse",
            _INSERT.format(table="warehouse", amount="?3"),
            _bindable(rows, "warehouse"),
        )

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
            raise ValueError(_not_an_amount(side, eid or tid, amount))

    def _count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    # -- matching -----------------------------------------------------------------------------

    def match(self) -> dict[str, int]:
        """Pair the rows (eid first, then transaction id); returns row and pair counts."""
        self.db.execute("BEGIN")
        for table in ("altcraft", "warehouse"):
            # Built after loading (one sort, not a B-tree grown row by row); it gives the eid
            # window its order, so the pairing needs no sort of its own.
            self.db.execute(f"CREATE INDEX {table}_eid ON {table} (eid, rid)")
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
        }

    def _warehouse_type_sql(self, w: str) -> str:
        """The warehouse's type as read: its column, or the amount's sign."""
        if not self.signed_amounts:
            return f"{w}.type"
        # A text starting with a digit, "+" or "." is not negative: no need to normalise it.
        negative = f"{w}.amount NOT GLOB '[0-9+.]*' AND {_amount_key_sql(f'{w}.amount')} GLOB '-*'"
        return f"(CASE WHEN {negative} THEN 'redeem' ELSE 'accrual' END)"

    def differences(self) -> Iterator[tuple[str | None, ...]]:
        """Report rows (see :data:`REPORT_COLUMNS`), class by class; call after match()."""

        def shown(side: str, type_sql: str) -> str:  # amounts as read, other texts stripped
            texts = (f"{side}.created_at", type_sql, f"{side}.state")
            created_at, type_, state = (_text_sql(text) for text in texts)
            return f"{created_at}, {side}.amount, {type_}, {state}"

        for row in self.db.execute(
            f"SELECT w.tid, w.eid, {shown('w', self._warehouse_type_sql('w'))} FROM warehouse AS w "
            "WHERE rid NOT IN (SELECT w_rid FROM pairs) ORDER BY rid"
        ):
            tid, eid, created_at, amount, type_raw, state_raw = row
            yield ("missing_in_altcraft", None, tid, eid, created_at,
                   None, amount, None, type_raw, None, state_raw)  # fmt: skip
        for row in self.db.execute(
            f"SELECT a.tid, a.eid, {shown('a', 'a.type')} FROM altcraft AS a "
            "WHERE rid NOT IN (SELECT a_rid FROM pairs) ORDER BY rid"
        ):
            tid, eid, created_at, amount, type_raw, state_raw = row
            yield ("missing_in_warehouse", None, tid, eid, created_at,
                   amount, None, type_raw, None, state_raw, None)  # fmt: skip
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
        state_differs = _differs_sql("a.state", "w.state", states) if self.compare_state else "0"
        # Pairs in a_rid order (their primary key): no sort. SQLite reads the flags' aliases
        # in WHERE, so each flag is written once.
        query = f"""
            SELECT p.matched_on, a.tid, a.eid, {_text_sql("a.created_at")},
                   a.amount, w.amount, {_text_sql("a.type")}, {_text_sql(w_type)},
                   {_text_sql("a.state")}, {_text_sql("w.state")},
                   {amount_differs} AS amount_differs,
                   {_differs_sql("a.type", w_type, types)} AS type_differs,
                   {state_differs} AS state_differs
              FROM pairs AS p
              JOIN altcraft AS a ON a.rid = p.a_rid
              JOIN warehouse AS w ON w.rid = p.w_rid
             WHERE amount_differs OR type_differs OR state_differs
             ORDER BY p.a_rid
        """
        for row in self.db.execute(query):
            *values, amount_flag, type_flag, state_flag = row
            for name, differs in zip(
                DIFFERENCE_CLASSES[2:], (amount_flag, type_flag, state_flag), strict=True
            ):
                if differs:
                    yield (name, *values)


def _not_an_amount(side: str, transaction: object, amount: object) -> str:
    return (
        f"{side} transaction {transaction}: amount {amount!r} is not an amount; "
        "use a decimal column"
    )


def _bindable(rows: Iterable[Sequence[object]], side: str) -> Iterator[tuple[object, ...]]:
    """Rows as values SQLite binds exactly: text or None (a driver's Decimal, datetime, int
    become their ``str()``, a float its shortest repr); strings pass untouched."""
    for tid, eid, amount, type_, state, created_at in rows:
        if amount.__class__ is not str and amount is not None:
            amount = _amount_text(amount, side, _text(eid) or _text(tid))
        yield (
            None if tid is None else str(tid).strip(),
            None if eid is None else str(eid).strip(),
            amount,
            type_ if type_ is None or type_.__class__ is str else str(type_),
            state if state is None or state.__class__ is str else str(state),
            created_at if created_at is None or created_at.__class__ is str else str(created_at),
        )


def _amount_text(amount: object, side: str, transaction: object) -> str:
    if isinstance(amount, float):
        return repr(amount)
    if isinstance(amount, (Decimal, int)) and not isinstance(amount, bool):
        return str(amount)
    try:
        canonical_amount(amount)  # other types: read through str(), as canonical_amount does
    except ValueError:
        raise ValueError(_not_an_amount(side, transaction, amount)) from None
    return str(amount)


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
