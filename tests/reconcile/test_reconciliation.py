"""The compare engines on their own: the matching and comparison rules the report relies on.

No Airflow and no HTTP: every case runs on every engine (SQLite, DuckDB, PostgreSQL push-down),
driven directly with rows and files (the operator's DAG-level behaviour is in
test_reconcile.py).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.export.csv_reader import ExportFormatError
from airflow_provider_altcraft.reconciliation import REPORT_COLUMNS, TransactionRow

Report = list[dict[str, str | None]]
Counts = dict[str, int]


def _report(reconciler: Any) -> Report:
    return [dict(zip(REPORT_COLUMNS, row, strict=True)) for row in reconciler.differences()]


def _reconcile(
    open_engine: Any,
    altcraft: list[TransactionRow],
    warehouse: list[TransactionRow],
    **options: object,
) -> tuple[Counts, Report]:
    with open_engine(**options) as reconciler:
        reconciler.add_altcraft(altcraft)
        reconciler.add_warehouse(warehouse)
        counts = reconciler.match()
        report = _report(reconciler)
    return counts, report


def _counts(altcraft: int, warehouse: int, matched: int, copies: int = 0) -> Counts:
    return {
        "altcraft_rows": altcraft,
        "warehouse_rows": warehouse,
        "matched": matched,
        "committed_copies": copies,
    }


def test_scratch_files_are_removed(tmp_path: Path, open_engine: Any) -> None:
    with open_engine() as reconciler:
        reconciler.add_altcraft([TransactionRow("t-1", "e-1", "1", "accrual", "active")])
        reconciler.match()
    assert [list(work.iterdir()) for work in tmp_path.glob("work-*")] == [[]]


def _pair(eid: str, amount: object, other: object | None = None) -> tuple[TransactionRow, ...]:
    return (
        TransactionRow(None, eid, amount, "accrual", "active"),
        TransactionRow(None, eid, amount if other is None else other, "accrual", "active"),
    )


@pytest.mark.parametrize(
    ("altcraft_amount", "warehouse_amount"),
    [
        ("5", "5.0"),
        ("5.0", "5.00"),
        ("-5.00", "-5"),
        ("0.10", "0.1"),
        ("0.10", ".1"),
        ("007.50", "7.5"),
        ("+5", "5"),
        ("0", "-0.00"),
        (" 12.30 ", "12.3"),
        ("100", "1E+2"),
        ("100", Decimal("1E+2")),
        ("0.0000001", Decimal("1E-7")),
        ("100.50", 100.5),
        ("42.00", 42),
        ("1234567890123456789012345678901234.50", Decimal("1234567890123456789012345678901234.5")),
    ],
)
def test_equal_amounts_in_any_notation_match(
    open_engine: Any, altcraft_amount: str, warehouse_amount: object
) -> None:
    altcraft, warehouse = _pair("e-1", altcraft_amount, warehouse_amount)

    counts, report = _reconcile(open_engine, [altcraft], [warehouse])

    assert report == []
    assert counts == _counts(1, 1, 1)


@pytest.mark.parametrize(
    ("altcraft_amount", "warehouse_amount"),
    [
        ("5.00", "5.01"),
        ("5", "-5"),
        ("0.1", "0.01"),
        ("10", "1"),
        ("1.5", "15"),
        ("100.5", 100.05),
        # Beyond 28 significant digits: still exact (no rounding to a context precision).
        ("1234567890123456789012345678901234.50", "1234567890123456789012345678901234.51"),
        ("99999999999999999999999999999999999", "100000000000000000000000000000000000"),
    ],
)
def test_different_amounts_are_reported(
    open_engine: Any, altcraft_amount: str, warehouse_amount: object
) -> None:
    altcraft, warehouse = _pair("e-1", altcraft_amount, warehouse_amount)

    _, report = _reconcile(open_engine, [altcraft], [warehouse])

    assert [(r["difference"], r["altcraft_amount"], r["warehouse_amount"]) for r in report] == [
        ("amount_differs", altcraft_amount, str(warehouse_amount))
    ]


@pytest.mark.parametrize(
    ("amount", "shown"),
    [("abc", "'abc'"), ("5.0.0", "'5.0.0'"), ("", "''"), (None, "None"), (True, "True")],
)
def test_an_amount_that_is_not_a_number_fails_naming_the_transaction(
    open_engine: Any, amount: object, shown: str
) -> None:
    with open_engine() as reconciler:
        reconciler.add_altcraft([TransactionRow("t-1", "e-1", "1.00", "accrual", "active")])
        with pytest.raises(ValueError) as raised:
            reconciler.add_warehouse([TransactionRow("t-1", "e-1", amount, "accrual", "active")])

    assert str(raised.value) == (
        f"warehouse transaction e-1: amount {shown} is not an amount; use a decimal column"
    )


def test_types_and_states_compare_after_aliasing_case_and_spaces(open_engine: Any) -> None:
    altcraft = [
        TransactionRow(None, "e-1", "1", "accrual", "active"),
        TransactionRow(None, "e-2", "1", "redeem", "cancelled"),
        TransactionRow(None, "e-3", "1", "accrual", "Ünpaid"),
        TransactionRow(None, "e-4", "1", "redeem", "active"),
        TransactionRow(None, "e-5", "1", "accrual", "active"),
    ]
    warehouse = [
        TransactionRow(None, " e-1 ", "1", " ACCRUE ", "Committed"),
        TransactionRow(None, "e-2", "1", "Redemption", "canceled"),
        TransactionRow(None, "e-3", "1", "accrual", "üNPAID\u3000"),  # Unicode case, spaces
        TransactionRow(None, "e-4", "1", "bonus", "active"),
        TransactionRow(None, "e-5", "1", "accrual", "pending"),
    ]

    _, report = _reconcile(open_engine, altcraft, warehouse)

    assert [(r["difference"], r["transaction_eid"]) for r in report] == [
        ("type_differs", "e-4"),
        ("state_differs", "e-5"),
    ]
    assert (report[0]["altcraft_type"], report[0]["warehouse_type"]) == ("redeem", "bonus")


def test_custom_aliases_extend_the_defaults(open_engine: Any) -> None:
    altcraft = [TransactionRow(None, "e-1", "1", "accrual", "active")]
    warehouse = [TransactionRow(None, "e-1", "1", "Bonus", "Booked")]

    _, default = _reconcile(open_engine, altcraft, warehouse)
    _, aliased = _reconcile(
        open_engine,
        altcraft,
        warehouse,
        type_aliases={"BONUS": "Accrual"},
        state_aliases={"booked": "committed"},
    )

    assert [r["difference"] for r in default] == ["type_differs", "state_differs"]
    # "booked" → "committed"; aliases apply once, so it is not further mapped to "active".
    assert [r["difference"] for r in aliased] == ["state_differs"]


def test_signed_amounts_give_the_type_and_compare_absolute_values(open_engine: Any) -> None:
    altcraft = [
        TransactionRow(None, "e-1", "10.00", "redeem", "active"),
        TransactionRow(None, "e-2", "10.00", "accrual", "active"),
        TransactionRow(None, "e-3", "0", "accrual", "active"),
        TransactionRow(None, "e-4", "10.00", "accrual", "active"),
    ]
    warehouse = [
        TransactionRow(None, "e-1", "-10.0", "ignored", None),
        TransactionRow(None, "e-2", Decimal("10"), None, None),
        TransactionRow(None, "e-3", "-0.00", None, None),
        TransactionRow(None, "e-4", "-10", None, None),
    ]

    _, report = _reconcile(
        open_engine, altcraft, warehouse, signed_amounts=True, compare_state=False
    )

    assert [(r["difference"], r["transaction_eid"], r["warehouse_type"]) for r in report] == [
        ("type_differs", "e-4", "redeem")
    ]
    assert report[0]["warehouse_amount"] == "-10"


def test_states_are_ignored_without_a_state_column(open_engine: Any) -> None:
    altcraft = TransactionRow(None, "e-1", "1", "accrual", "active")
    warehouse = TransactionRow(None, "e-1", "1", "accrual", None)

    _, compared = _reconcile(open_engine, [altcraft], [warehouse])
    _, ignored = _reconcile(open_engine, [altcraft], [warehouse], compare_state=False)

    assert [r["difference"] for r in compared] == ["state_differs"]
    assert ignored == []


def test_matching_by_eid_then_id_and_duplicates_pair_in_order(open_engine: Any) -> None:
    altcraft = [
        TransactionRow("t-1", "dup", "1", "accrual", "active", "2024-09-01T00:00:01Z"),
        TransactionRow("t-2", "dup", "2", "accrual", "active", "2024-09-01T00:00:02Z"),
        TransactionRow("t-3", None, "3", "accrual", "active"),
        TransactionRow("t-4", "e-4", "4", "accrual", "active"),
        TransactionRow("t-5", "e-5", "5", "accrual", "active"),
    ]
    warehouse = [
        TransactionRow("w-2", "dup", "1", "accrual", "active"),
        TransactionRow("w-3", "dup", "2", "accrual", "active"),
        TransactionRow("w-9", "dup", "9", "accrual", "active", "2024-09-01 00:00:09"),
        TransactionRow("t-3", "", "3.00", "accrual", "active"),
        TransactionRow(" t-4 ", "other", "4.5", "accrual", "active"),  # eid differs: id match
        TransactionRow(5, "  ", "5", "accrual", "active"),  # an integer id, not "t-5"
    ]

    counts, report = _reconcile(open_engine, altcraft, warehouse)

    assert counts == _counts(5, 6, 4)
    assert [
        (r["difference"], r["matched_on"], r["transaction_id"], r["transaction_eid"])
        for r in report
    ] == [
        ("missing_in_altcraft", None, "w-9", "dup"),
        ("missing_in_altcraft", None, "5", None),
        ("missing_in_warehouse", None, "t-5", "e-5"),
        ("amount_differs", "transaction_id", "t-4", "e-4"),
    ]
    assert report[0]["created_at"] == "2024-09-01T00:00:09Z"  # RFC3339, as every date-time


def test_one_transaction_can_differ_in_every_way(open_engine: Any) -> None:
    altcraft = [TransactionRow("t-1", "e-1", "1", "accrual", "active", "2024-09-01T10:00:00Z")]
    warehouse = [TransactionRow("t-1", "e-1", "2", "redeem", "cancelled")]

    _, report = _reconcile(open_engine, altcraft, warehouse)

    assert report == [
        {
            "difference": difference,
            "matched_on": "transaction_eid",
            "transaction_id": "t-1",
            "transaction_eid": "e-1",
            "created_at": "2024-09-01T10:00:00Z",
            "altcraft_amount": "1",
            "warehouse_amount": "2",
            "altcraft_type": "accrual",
            "warehouse_type": "redeem",
            "altcraft_state": "active",
            "warehouse_state": "cancelled",
        }
        for difference in ("amount_differs", "type_differs", "state_differs")
    ]


EXPORT = (
    "Transaction_ID ,transaction_eid,created_at,transaction_type,amount,status,extra\n"
    "t-1,e-1,2024-08-31T23:59:59Z,accrual,1.00,active,x\n"
    "t-2,e-2,2024-09-01T00:00:00Z,accrual,2.00,active,x\n"
    "\n"
    "t-3,,2024-09-02T23:59:59Z,redeem,3.00,cancelled,\n"
    "t-4,e-4,2024-09-03T00:00:00Z,accrual,4.00,active,x\n"
    "t-5,e-5,,accrual,5.00,active,x\n"
)


@dataclass(frozen=True)
class _Period:
    """What add_export reads from airflow_provider_altcraft.periods.Period."""

    start: datetime
    end: datetime


def _utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=timezone.utc)  # type: ignore[misc]


def _load_export(open_engine: Any, text: str, tmp_path: Path, period: Any) -> tuple[int, Any]:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    reconciler = open_engine()
    return reconciler.add_export(path, period), reconciler


def test_export_rows_are_read_by_name_within_the_period(open_engine: Any, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")

    with open_engine() as reconciler:
        loaded = reconciler.add_export(path, (date(2024, 9, 1), date(2024, 9, 2)))
        reconciler.match()
        report = list(reconciler.differences())

    assert loaded == 3
    assert [row[2:5] + row[5::2] for row in report] == [
        ("t-2", "e-2", "2024-09-01T00:00:00Z", "2.00", "accrual", "active"),
        ("t-3", None, "2024-09-02T23:59:59Z", "3.00", "redeem", "cancelled"),
        ("t-5", "e-5", None, "5.00", "accrual", "active"),
    ]


def test_a_half_open_period_keeps_its_start_and_drops_its_end(
    open_engine: Any, tmp_path: Path
) -> None:
    export = (
        "id,eid,date,type,amount\n"  # aliases; no status column
        "t-0,e-0,2024-09-01T09:59:59.999Z,accrual,1\n"
        "t-1,e-1,2024-09-01T10:00:00Z,accrual,1\n"
        "t-2,e-2,2024-09-01 12:30:00.5+00:00,accrual,1\n"
        "t-3,e-3,2024-09-01T13:59:59.999999Z,accrual,1\n"
        "t-4,e-4,2024-09-01T14:00:00Z,accrual,1\n"
        "t-5,e-5,2024-09-01T23:00:00+03:00,accrual,1\n"  # not UTC: kept (the export chose it)
        "t-6,e-6,,accrual,1\n"
    )
    period = _Period(_utc(2024, 9, 1, 10), _utc(2024, 9, 1, 14))

    loaded, reconciler = _load_export(open_engine, export, tmp_path, period)
    with reconciler:
        reconciler.match()
        report = list(reconciler.differences())

    assert loaded == 5
    assert [(row[2], row[4]) for row in report] == [
        ("t-1", "2024-09-01T10:00:00Z"),
        ("t-2", "2024-09-01T12:30:00.500000Z"),
        ("t-3", "2024-09-01T13:59:59.999999Z"),
        ("t-5", "2024-09-01T20:00:00Z"),
        ("t-6", None),
    ]


def test_no_period_loads_every_row(open_engine: Any, tmp_path: Path) -> None:
    loaded, reconciler = _load_export(open_engine, EXPORT, tmp_path, None)
    reconciler.close()

    assert loaded == 5


def test_an_export_without_status_compares_no_state(open_engine: Any, tmp_path: Path) -> None:
    export = (
        "Transaction ID,Transaction-EID,Created_At,TYPE,Amount\n"
        "t-1,e-1,2024-09-01T10:00:00Z,accrual,100.1\n"
        "t-2,e-2,2024-09-01T11:00:00Z,redeem,5\n"
    )
    warehouse = [
        TransactionRow("t-1", "e-1", "100.10", "accrual", "cancelled"),
        TransactionRow("t-2", "e-2", "5.00", "redeem", "active"),
    ]

    _, reconciler = _load_export(open_engine, export, tmp_path, None)
    with reconciler:
        reconciler.add_warehouse(warehouse)
        counts = reconciler.match()
        report = _report(reconciler)
        compared = reconciler.state_compared

    assert (report, compared) == ([], False)
    assert counts == _counts(2, 2, 2)


def _fold_case(open_engine: Any, altcraft: list[TransactionRow], warehouse: list[TransactionRow]
               ) -> tuple[Counts, Report]:  # fmt: skip
    with open_engine() as reconciler:
        reconciler.add_altcraft(altcraft)
        reconciler.add_warehouse(warehouse)
        counts = reconciler.match()
        return counts, _report(reconciler)


def test_a_committed_temporary_accrual_is_one_transaction(open_engine: Any) -> None:
    # Committing a temporary accrual: the export holds the temporary row and a new full row
    # (new transaction_id, same eid, amount and type, created at commit time).
    altcraft = [
        TransactionRow("t-1", "e-1", "10.00", "accrual", "committed", "2024-09-01T10:00:00Z"),
        TransactionRow("t-0", "e-0", "1", "accrual", "active", "2024-09-01T10:30:00Z"),
        TransactionRow("t-2", "e-1", "10", "Accrual", "active", "2024-09-01T11:00:00Z"),
    ]
    warehouse = [
        TransactionRow(None, "e-0", "1", "accrual", "active"),
        TransactionRow(None, "e-1", "10", "accrual", "active"),
    ]

    counts, report = _fold_case(open_engine, altcraft, warehouse)

    assert (counts, report) == (_counts(2, 2, 2, copies=1), [])


def test_the_later_row_is_the_one_compared_and_reported(open_engine: Any) -> None:
    # The later by created_at (here first in the file), then the later in the file.
    altcraft = [
        TransactionRow("t-2", "e-1", "10", "accrual", "active", "2024-09-01T11:00:00Z"),
        TransactionRow("t-1", "e-1", "10", "accrual", "committed", "2024-09-01T10:00:00Z"),
        TransactionRow("t-3", "e-2", "7", "redeem", "active", "2024-09-01T12:00:00Z"),
        TransactionRow("t-4", "e-2", "7", "redeem", "active", "2024-09-01T12:00:00Z"),
    ]
    warehouse = [
        TransactionRow(None, "e-1", "10", "accrual", "cancelled"),
        TransactionRow(None, "e-2", "7", "redeem", "cancelled"),
    ]

    counts, report = _fold_case(open_engine, altcraft, warehouse)

    assert counts == _counts(2, 2, 2, copies=2)
    assert [(r["difference"], r["transaction_id"], r["created_at"]) for r in report] == [
        ("state_differs", "t-2", "2024-09-01T11:00:00Z"),
        ("state_differs", "t-4", "2024-09-01T12:00:00Z"),
    ]


def test_same_eid_with_another_amount_or_three_rows_stays_a_difference(open_engine: Any) -> None:
    altcraft = [
        TransactionRow("t-1", "e-1", "10", "accrual", "active", "2024-09-01T10:00:00Z"),
        TransactionRow("t-2", "e-1", "12", "accrual", "active", "2024-09-01T11:00:00Z"),
        TransactionRow("t-3", "e-2", "5", "accrual", "active", "2024-09-01T10:00:00Z"),
        TransactionRow("t-4", "e-2", "5", "redeem", "active", "2024-09-01T11:00:00Z"),
        *(
            TransactionRow(f"t-{n}", "e-3", "1", "accrual", "active", f"2024-09-01T1{n}:00:00Z")
            for n in (5, 6, 7)
        ),
    ]
    warehouse = [
        TransactionRow(None, "e-1", "10", "accrual", "active"),
        TransactionRow(None, "e-2", "5", "accrual", "active"),
        TransactionRow(None, "e-3", "1", "accrual", "active"),
    ]

    counts, report = _fold_case(open_engine, altcraft, warehouse)

    assert counts == _counts(7, 3, 3)
    assert [(r["difference"], r["transaction_id"]) for r in report] == [
        ("missing_in_warehouse", "t-2"),
        ("missing_in_warehouse", "t-4"),
        ("missing_in_warehouse", "t-6"),
        ("missing_in_warehouse", "t-7"),
    ]


def test_a_temporary_accrual_committed_in_the_next_period_shows_in_one_report(
    open_engine: Any, tmp_path: Path
) -> None:
    # docs/reconcile-performance.md: created on 09-01, committed on 09-02, the warehouse dates
    # it at its creation. Each day's reconcile sees one of Altcraft's two rows: 09-01 matches
    # the temporary row, 09-02 reports the full row (new id, same eid) missing; one export
    # holding both days folds the pair. The engines cannot see the other period.
    export = (
        "transaction_id,transaction_eid,created_at,transaction_type,amount,status\n"
        "t-temp,e-1,2024-09-01T23:50:00Z,accrual,10,committed\n"
        "t-full,e-1,2024-09-02T00:10:00Z,accrual,10,active\n"
    )
    warehouse = [TransactionRow(None, "e-1", "10.00", "accrual", "active")]
    found = []
    for period in ((date(2024, 9, 1), date(2024, 9, 1)), (date(2024, 9, 2), date(2024, 9, 2)),
                   (date(2024, 9, 1), date(2024, 9, 2))):  # fmt: skip
        loaded, reconciler = _load_export(open_engine, export, tmp_path, period)
        with reconciler:
            reconciler.add_warehouse(warehouse if period[0].day == 1 else [])
            counts = reconciler.match()
            report = _report(reconciler)
        found.append((loaded, counts["committed_copies"],
                      [(r["difference"], r["transaction_id"]) for r in report]))  # fmt: skip

    assert found == [
        (1, 0, []),
        (1, 0, [("missing_in_warehouse", "t-full")]),
        (2, 1, []),
    ]


def test_report_date_times_are_rfc3339_utc(open_engine: Any) -> None:
    altcraft = [TransactionRow("t-1", "e-1", "1", "accrual", "active", "2024-10-15 12:00:00+03")]
    warehouse = [
        TransactionRow("w-1", "e-2", "1", "accrual", "active", "2024-10-15 12:00:00+00:00"),
        TransactionRow("w-2", "e-3", "1", "accrual", "active", _utc(2024, 10, 15, 1, 2, 3)),
        TransactionRow("w-3", "e-4", "1", "accrual", "active", "2024-10-15T01:00:00.25-02:30"),
        TransactionRow("w-4", "e-5", "1", "accrual", "active", "yesterday"),
    ]

    _, report = _reconcile(open_engine, altcraft, warehouse)

    assert [r["created_at"] for r in report] == [
        "2024-10-15T12:00:00Z",
        "2024-10-15T01:02:03Z",
        "2024-10-15T03:30:00.250000Z",
        "yesterday",
        "2024-10-15T09:00:00Z",
    ]


def test_an_empty_export_amount_fails_naming_the_transaction(
    open_engine: Any, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(EXPORT.replace("accrual,2.00", "accrual,"), encoding="utf-8")

    with open_engine() as reconciler, pytest.raises(ValueError) as raised:
        reconciler.add_export(path, (date(2024, 9, 1), date(2024, 9, 2)))

    assert str(raised.value) == (
        "Altcraft transaction e-2: amount None is not an amount; use a decimal column"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            EXPORT.encode() + b"t-6,e-6,2024-09-01T00:00:00Z,accrual,6.00,active\n",
            "line 8: 6 fields where the header has 7; the reader accepts rows with a value",
        ),
        (EXPORT.encode().replace(b"e-4", b"\xe9-4"), "is not UTF-8 text (byte b'\\xe9'"),
        (EXPORT.encode() + b'"t-7,e-7\n', "line 8: a malformed row (unexpected end of data)"),
        (b"transaction_id,amount\nt-1,1\n", "has no column 'transaction_eid', 'transaction_type',"),
        (b"", "is empty: no header row"),
    ],
)
def test_an_unreadable_export_fails_the_same_on_every_engine(
    open_engine: Any, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content)

    with open_engine() as reconciler, pytest.raises(ExportFormatError) as raised:
        reconciler.add_export(path, (date(2024, 9, 1), date(2024, 9, 2)))

    assert str(raised.value).startswith(f"export file {str(path)!r}")
    assert message in str(raised.value)


def test_rows_longer_than_the_header_and_blank_lines_are_read(
    open_engine: Any, tmp_path: Path
) -> None:
    export = EXPORT.replace("active,x\n", "active,x,surplus\n", 1) + "\n\n"

    loaded, reconciler = _load_export(open_engine, export, tmp_path, None)
    reconciler.close()

    assert loaded == 5


def _sqlite_warehouse(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE tx (id INTEGER, eid TEXT, amount NUMERIC, kind TEXT, state TEXT, at TEXT)"
    )
    db.executemany(
        "INSERT INTO tx VALUES (?, ?, ?, ?, ?, ?)",
        [
            (1, " e-1 ", "100.10", "accrual", "active", "2024-09-01 10:00:00"),
            (2, "e-2", 0.1 + 0.2, "accrual", None, "2024-09-01T11:00:00Z"),  # a REAL
            (3, None, "7", "redeem", "active", None),
            (4, "e-4", "5.00", "accrual", "", "2024-09-01T12:00:00+03:00"),
        ],
    )
    db.commit()
    return db


BULK_SQL = "SELECT id, eid, amount, kind, state, at FROM tx WHERE id > ?;"


def test_a_sqlite_warehouse_read_in_bulk_reads_as_its_rows(
    open_engine: Any, tmp_path: Path
) -> None:
    db = _sqlite_warehouse(tmp_path / "warehouse.db")
    altcraft = [
        TransactionRow("t-1", "e-1", "100.1", "accrual", "active", "2024-09-01T10:00:00Z"),
        TransactionRow("t-2", "e-2", "0.3", "accrual", "active", "2024-09-01T11:00:00Z"),
    ]
    reports = []
    for bulk in (False, True):
        with open_engine() as reconciler:
            reconciler.add_altcraft(altcraft)
            if bulk:
                columns = ["id", "eid", "amount", "kind", "state", "at"]
                loaded = reconciler.add_warehouse_sqlite(db, BULK_SQL, (0,), columns)
            else:
                loaded = reconciler.add_warehouse(db.execute(BULK_SQL, (0,)))
            counts = reconciler.match()
            reports.append((loaded, counts, _report(reconciler)))
    db.close()

    assert reports[0] == reports[1]
    loaded, counts, report = reports[1]
    assert (loaded, counts) == (4, _counts(2, 4, 2))
    assert [(r["difference"], r["transaction_id"], r["created_at"]) for r in report] == [
        ("missing_in_altcraft", "3", None),
        ("missing_in_altcraft", "4", "2024-09-01T09:00:00Z"),
        ("amount_differs", "t-2", "2024-09-01T11:00:00Z"),  # 0.30000000000000004 is not 0.3
        ("state_differs", "t-2", "2024-09-01T11:00:00Z"),
    ]


def test_a_postgres_copy_csv_reads_nulls_and_empty_texts_apart(
    open_engine: Any, tmp_path: Path
) -> None:
    # COPY ... TO STDOUT (FORMAT csv, NULL '\N'): NULL is \N, '' an empty field.
    path = tmp_path / "warehouse.csv"
    path.write_text(
        "transaction_id,transaction_eid,amount,transaction_type,status,created_at\n"
        "w-1,e-1,1.00,accrual,\\N,2024-09-01 10:00:00+00\n"
        'w-2,e-2,2.00,accrual,"",2024-09-01 10:00:00+00\n',
        encoding="utf-8",
    )
    altcraft = [
        TransactionRow("t-1", "e-1", "1", "accrual", None),
        TransactionRow("t-2", "e-2", "2", "accrual", None),
    ]

    with open_engine() as reconciler:
        reconciler.add_altcraft(altcraft)
        assert reconciler.add_warehouse_csv(path) == 2
        counts = reconciler.match()
        report = _report(reconciler)

    # NULL and '' are both "no state" once stripped: no difference either way.
    assert (counts, report) == (_counts(2, 2, 2), [])


def test_an_empty_text_amount_in_a_warehouse_csv_is_named_as_such(
    open_engine: Any, tmp_path: Path
) -> None:
    path = tmp_path / "warehouse.csv"
    path.write_text('h1,h2,h3,h4,h5,h6\nw-1,e-1,"",accrual,active,\n', encoding="utf-8")

    with open_engine() as reconciler, pytest.raises(ValueError) as raised:
        reconciler.add_warehouse_csv(path)

    assert str(raised.value) == (
        "warehouse transaction e-1: amount '' is not an amount; use a decimal column"
    )
