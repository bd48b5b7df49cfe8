"""The compare engine on its own: the matching and comparison rules the report relies on.

No Airflow and no HTTP: the engine is plain Python + SQLite, so it is driven directly with
rows (the operator's DAG-level behaviour is in test_reconcile.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from airflow_provider_altcraft.export_csv import ExportFormatError
from airflow_provider_altcraft.reconciliation import (
    REPORT_COLUMNS,
    Reconciler,
    TransactionRow,
)

Report = list[dict[str, str | None]]


def _reconcile(
    tmp_path: Path,
    altcraft: list[TransactionRow],
    warehouse: list[TransactionRow],
    **options: object,
) -> tuple[dict[str, int], Report]:
    with Reconciler(tmp_path / "scratch.sqlite", **options) as reconciler:  # type: ignore[arg-type]
        reconciler.add_altcraft(altcraft)
        reconciler.add_warehouse(warehouse)
        counts = reconciler.match()
        report = [dict(zip(REPORT_COLUMNS, row, strict=True)) for row in reconciler.differences()]
    assert not (tmp_path / "scratch.sqlite").exists()
    return counts, report


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
    tmp_path: Path, altcraft_amount: str, warehouse_amount: object
) -> None:
    altcraft, warehouse = _pair("e-1", altcraft_amount, warehouse_amount)

    counts, report = _reconcile(tmp_path, [altcraft], [warehouse])

    assert report == []
    assert counts == {"altcraft_rows": 1, "warehouse_rows": 1, "matched": 1}


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
    tmp_path: Path, altcraft_amount: str, warehouse_amount: object
) -> None:
    altcraft, warehouse = _pair("e-1", altcraft_amount, warehouse_amount)

    _, report = _reconcile(tmp_path, [altcraft], [warehouse])

    assert [(r["difference"], r["altcraft_amount"], r["warehouse_amount"]) for r in report] == [
        ("amount_differs", altcraft_amount, str(warehouse_amount))
    ]


@pytest.mark.parametrize(
    ("amount", "shown"),
    [("abc", "'abc'"), ("5.0.0", "'5.0.0'"), ("", "''"), (None, "None"), (True, "True")],
)
def test_an_amount_that_is_not_a_number_fails_naming_the_transaction(
    tmp_path: Path, amount: object, shown: str
) -> None:
    with Reconciler(tmp_path / "scratch.sqlite") as reconciler:
        reconciler.add_altcraft([TransactionRow("t-1", "e-1", "1.00", "accrual", "active")])
        with pytest.raises(ValueError) as raised:
            reconciler.add_warehouse([TransactionRow("t-1", "e-1", amount, "accrual", "active")])

    assert str(raised.value) == (
        f"warehouse transaction e-1: amount {shown} is not an amount; use a decimal column"
    )


def test_types_and_states_compare_after_aliasing_case_and_spaces(tmp_path: Path) -> None:
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

    _, report = _reconcile(tmp_path, altcraft, warehouse)

    assert [(r["difference"], r["transaction_eid"]) for r in report] == [
        ("type_differs", "e-4"),
        ("state_differs", "e-5"),
    ]
    assert (report[0]["altcraft_type"], report[0]["warehouse_type"]) == ("redeem", "bonus")


def test_custom_aliases_extend_the_defaults(tmp_path: Path) -> None:
    altcraft = [TransactionRow(None, "e-1", "1", "accrual", "active")]
    warehouse = [TransactionRow(None, "e-1", "1", "Bonus", "Booked")]

    _, default = _reconcile(tmp_path, altcraft, warehouse)
    _, aliased = _reconcile(
        tmp_path,
        altcraft,
        warehouse,
        type_aliases={"BONUS": "Accrual"},
        state_aliases={"booked": "committed"},
    )

    assert [r["difference"] for r in default] == ["type_differs", "state_differs"]
    # "booked" → "committed"; aliases apply once, so it is not further mapped to "active".
    assert [r["difference"] for r in aliased] == ["state_differs"]


def test_signed_amounts_give_the_type_and_compare_absolute_values(tmp_path: Path) -> None:
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

    _, report = _reconcile(tmp_path, altcraft, warehouse, signed_amounts=True, compare_state=False)

    assert [(r["difference"], r["transaction_eid"], r["warehouse_type"]) for r in report] == [
        ("type_differs", "e-4", "redeem")
    ]
    assert report[0]["warehouse_amount"] == "-10"


def test_states_are_ignored_without_a_state_column(tmp_path: Path) -> None:
    altcraft = TransactionRow(None, "e-1", "1", "accrual", "active")
    warehouse = TransactionRow(None, "e-1", "1", "accrual", None)

    _, compared = _reconcile(tmp_path, [altcraft], [warehouse])
    _, ignored = _reconcile(tmp_path, [altcraft], [warehouse], compare_state=False)

    assert [r["difference"] for r in compared] == ["state_differs"]
    assert ignored == []


def test_matching_by_eid_then_id_and_duplicates_pair_in_order(tmp_path: Path) -> None:
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

    counts, report = _reconcile(tmp_path, altcraft, warehouse)

    assert counts == {"altcraft_rows": 5, "warehouse_rows": 6, "matched": 4}
    assert [
        (r["difference"], r["matched_on"], r["transaction_id"], r["transaction_eid"])
        for r in report
    ] == [
        ("missing_in_altcraft", None, "w-9", "dup"),
        ("missing_in_altcraft", None, "5", None),
        ("missing_in_warehouse", None, "t-5", "e-5"),
        ("amount_differs", "transaction_id", "t-4", "e-4"),
    ]
    assert report[0]["created_at"] == "2024-09-01 00:00:09"


def test_one_transaction_can_differ_in_every_way(tmp_path: Path) -> None:
    altcraft = [TransactionRow("t-1", "e-1", "1", "accrual", "active", "2024-09-01T10:00:00Z")]
    warehouse = [TransactionRow("t-1", "e-1", "2", "redeem", "cancelled")]

    _, report = _reconcile(tmp_path, altcraft, warehouse)

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


def test_export_rows_are_read_by_name_within_the_period(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")

    with Reconciler(tmp_path / "scratch.sqlite") as reconciler:
        loaded = reconciler.add_export(path, (date(2024, 9, 1), date(2024, 9, 2)))
        reconciler.match()
        report = list(reconciler.differences())

    assert loaded == 3
    assert [row[2:5] + row[5::2] for row in report] == [
        ("t-2", "e-2", "2024-09-01T00:00:00Z", "2.00", "accrual", "active"),
        ("t-3", None, "2024-09-02T23:59:59Z", "3.00", "redeem", "cancelled"),
        ("t-5", "e-5", None, "5.00", "accrual", "active"),
    ]


def test_an_empty_export_amount_fails_naming_the_transaction(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(EXPORT.replace("accrual,2.00", "accrual,"), encoding="utf-8")

    with Reconciler(tmp_path / "scratch.sqlite") as reconciler, pytest.raises(ValueError) as raised:
        reconciler.add_export(path, (date(2024, 9, 1), date(2024, 9, 2)))

    assert str(raised.value) == (
        "Altcraft transaction e-2: amount None is not an amount; use a decimal column"
    )


def test_a_short_export_row_fails_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(EXPORT + "t-6,e-6,2024-09-01T00:00:00Z,accrual,6.00,active\n", "utf-8")

    with (
        Reconciler(tmp_path / "scratch.sqlite") as reconciler,
        pytest.raises(ExportFormatError) as raised,
    ):
        reconciler.add_export(path, (date(2024, 9, 1), date(2024, 9, 2)))

    assert str(raised.value) == (
        f"export file {str(path)!r}, line 8: 6 fields where the header has 7"
    )
