"""What every reconcile engine shares: the report's shape, the comparison rules, the rows.

Declared once here; each engine (``sqlite_engine``, ``duckdb_engine``, ``pushdown``) computes
the same differences with these rules, the tests run the same cases on each.

Matching: first on ``transaction_eid`` (rows where both sides have one), then the rows still
unmatched on ``transaction_id``. An eid that appears twice on one side pairs its k-th
occurrence with the other side's k-th, so a duplicate shows up as a missing transaction.

Committed temporary accruals: committing a temporary transaction makes Altcraft create a new
full transaction (a new ``transaction_id``, the same ``transaction_eid``, amount and type, its
``created_at`` the commit time); the export then lists both. Exactly two Altcraft rows with the
same eid, type and amount are one transaction: the later one (by ``created_at``, then file
order) is kept, the other folded (counted as ``committed_copies``). The warehouse records it
once. Rows with the same eid and a different amount or type stay a difference; so do three or
more rows with the same eid, type and amount.

Comparing: amounts as exact decimals (``"100.5"`` equals ``"100.50"``), types and states after
aliasing (``accrue`` = ``accrual``; ``committed`` = ``active``, both "counted in the balance").
States are compared only when both sides have them: the Altcraft guide publishes no status
field, so an export without a ``status`` column skips the comparison (the counts say so).

Report: amounts as read, other texts stripped, ``created_at`` as RFC3339 UTC
(``2024-10-15T01:00:00Z``; a value that is no date-time stays as read).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import NamedTuple, Protocol

from airflow_provider_altcraft.validation import format_rfc3339

__all__ = [
    "DEFAULT_STATE_ALIASES",
    "DEFAULT_TYPE_ALIASES",
    "DIFFERENCE_CLASSES",
    "REPORT_COLUMNS",
    "PeriodLike",
    "TransactionRow",
    "amount_key",
    "canonical_amount",
    "canonical_text",
    "period_bounds",
    "report_row",
    "rfc3339",
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
#: What Python's str.strip() removes (every str.isspace() character), for SQL's trim().
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: An amount in the notation SQL normalises itself: [sign] digits [. digits].
PLAIN_AMOUNT = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
#: A ``created_at`` the period filter reads: UTC (or no offset) date-time, any fraction.
#: Others (another offset, another notation) are kept: the export selected them.
UTC_TIMESTAMP = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-]00(:?00)?)?"
)
_UTC_TIMESTAMP = re.compile(UTC_TIMESTAMP)
_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)\d*\s*"
    r"(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?"
)


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


class PeriodLike(Protocol):
    """A half-open period ``[start, end)`` of aware datetimes (e.g. ``periods.Period``)."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


def period_bounds(period: PeriodLike | tuple[date, date] | None) -> tuple[str, str] | None:
    """``[start, end)`` as 'YYYY-MM-DDTHH:MM:SS' UTC texts (to the second), for comparing with
    the first 19 characters of an RFC3339 ``created_at``. Two dates are inclusive days."""
    if period is None:
        return None
    if isinstance(period, tuple):
        first, last = period
        start = datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
        end = datetime(last.year, last.month, last.day, tzinfo=timezone.utc) + timedelta(days=1)
    else:
        start, end = period.start, period.end
    return (
        start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        end.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
    )


def in_period(created_at: str, bounds: tuple[str, str]) -> bool:
    """The rule every engine applies (in SQL elsewhere): an empty or unreadable ``created_at``
    is kept, a UTC one is kept when ``start <= created_at < end``."""
    if not created_at or _UTC_TIMESTAMP.fullmatch(created_at) is None:
        return True
    second = created_at[:10] + "T" + created_at[11:19]
    return bounds[0] <= second < bounds[1]


def rfc3339(value: str | None) -> str | None:
    """A report's date-time as RFC3339 UTC (``2024-10-15T01:00:00Z``; no offset = UTC);
    a text that is no date-time as read."""
    if value is None:
        return None
    match = _DATETIME.fullmatch(value)
    if match is None:
        return value
    day, clock, zone = match.groups()
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        return value
    if zone and zone.upper() not in ("Z", "UTC"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        moment = moment - sign * offset
    return format_rfc3339(moment.replace(tzinfo=timezone.utc))


def _strip(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def report_row(
    difference: str, matched_on: str | None, values: Sequence[object]
) -> tuple[str | None, ...]:
    """A report row from an engine's raw values (tid, eid, created_at, altcraft amount,
    warehouse amount, types, states): amounts as read, texts stripped, created_at RFC3339."""
    tid, eid, created_at, a_amount, w_amount, a_type, w_type, a_state, w_state = values
    return (
        difference,
        matched_on,
        _strip(tid),
        _strip(eid),
        rfc3339(_strip(created_at)),
        None if a_amount is None else str(a_amount),
        None if w_amount is None else str(w_amount),
        _strip(a_type),
        _strip(w_type),
        _strip(a_state),
        _strip(w_state),
    )


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

    The engines compute the same strings in SQL for plain notations (:data:`PLAIN_AMOUNT`)."""
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


def canonical_text(value: str | None, aliases: Mapping[str, str]) -> str | None:
    """A type or state as compared: stripped, lower-cased, aliased; None when empty."""
    if value is None:
        return None
    text = value.strip().lower()
    return aliases.get(text, text) or None


def not_an_amount(side: str, transaction: object, amount: object) -> str:
    return (
        f"{side} transaction {transaction}: amount {amount!r} is not an amount; "
        "use a decimal column"
    )


def bindable(rows: Iterable[Sequence[object]], side: str) -> Iterator[tuple[object, ...]]:
    """Rows as exact texts or None (a driver's Decimal, datetime, int become their ``str()``,
    a float its shortest repr); strings pass untouched, ids are stripped."""
    for tid, eid, amount, type_, state, created_at in rows:
        if amount.__class__ is not str and amount is not None:
            amount = _amount_text(amount, side, _strip(eid) or _strip(tid))
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
        raise ValueError(not_an_amount(side, transaction, amount)) from None
    return str(amount)


def lower_keys(aliases: Mapping[str, str] | None) -> dict[str, str]:
    return {
        str(key).strip().lower(): str(value).strip().lower()
        for key, value in (aliases or {}).items()
    }
