"""Reading an export CSV by header name: column order, spelling and extra columns do not
matter; a file the reader cannot read fails with one clear ExportFormatError."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from airflow_provider_altcraft.export.csv_reader import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    ExportFormatError,
    count_rows,
    iter_columns,
)


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def test_columns_are_found_by_name_whatever_their_order_and_extras(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "export.csv",
        "\ufeffStatus, Amount ,future_column,transaction_id\r\n"
        'active,100.50,x,t-1\r\ncancelled,"1,5",y,t-2\r\n',
    )

    rows = list(iter_columns(path, ["transaction_id", "amount", "status"]))

    assert rows == [("t-1", "100.50", "active"), ("t-2", "1,5", "cancelled")]
    assert count_rows(path) == 2


@pytest.mark.parametrize(
    "header",
    [
        "transaction_id,transaction_eid,amount,transaction_type,created_at,status",
        "Transaction ID,Transaction-EID,AMOUNT,Transaction Type,Created_At,STATUS",
        "id,eid,amount,type,date,state",
        " ID ,external_id,Amount,TYPE,created,State",
        "transaction id,transaction_external_id,amount,type,CreatedAt,status",
    ],
)
def test_case_spaces_dashes_underscores_and_aliases_are_tolerated(
    tmp_path: Path, header: str
) -> None:
    path = _write(tmp_path / "export.csv", f"{header}\nt-1,e-1,100.1,accrual,2024-09-01,ok\n")

    rows = list(iter_columns(path, REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS))

    assert rows == [("t-1", "e-1", "100.1", "accrual", "2024-09-01", "ok")]


def test_the_exact_name_wins_over_an_alias(tmp_path: Path) -> None:
    path = _write(tmp_path / "export.csv", "id,transaction_id,amount\nrow-1,t-1,1\n")

    assert list(iter_columns(path, ["transaction_id", "amount"])) == [("t-1", "1")]


def test_two_columns_for_one_field_fail(tmp_path: Path) -> None:
    path = _write(tmp_path / "export.csv", "Transaction ID,transaction_id\nt-1,t-1\n")

    with pytest.raises(ExportFormatError) as raised:
        count_rows(path, ["transaction_id"])

    assert str(raised.value) == (
        f"export file {str(path)!r} has several columns for transaction_id "
        "('Transaction ID', 'transaction_id'); the reader accepts one column named "
        "transaction_id / id / transaction id"
    )


def test_status_is_optional(tmp_path: Path) -> None:
    # The strict guide publishes no status field: an export without one is read.
    path = _write(
        tmp_path / "export.csv",
        "transaction_id,transaction_eid,created_at,transaction_type,amount\n"
        "t-1,e-1,2024-09-01T10:00:00Z,accrual,100.1\n",
    )

    rows = list(iter_columns(path, REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS))

    assert rows == [("t-1", "e-1", "100.1", "accrual", "2024-09-01T10:00:00Z", None)]
    assert "status" not in REQUIRED_COLUMNS


def test_missing_required_column_names_it_and_the_columns_present(tmp_path: Path) -> None:
    path = _write(tmp_path / "export.csv", "transaction_id,amount\r\nt-1,1.00\r\n")

    with pytest.raises(ExportFormatError) as raised:
        list(iter_columns(path, ["transaction_id", "transaction_eid", "created_at"]))

    assert str(raised.value) == (
        f"export file {str(path)!r} has no column 'transaction_eid', 'created_at'; its columns "
        "are transaction_id, amount; the reader needs transaction_id / id / transaction id; "
        "transaction_eid / eid / external_id / transaction_external_id; created_at / date / "
        "created (case, spaces, '-' and '_' ignored; extra columns are ignored)"
    )


ACCEPTS = (
    "the reader accepts a UTF-8 CSV file (comma-separated, double-quoted fields, a byte-order "
    "mark allowed) whose header row names the columns"
)


def test_empty_file_and_short_rows_fail_clearly(tmp_path: Path) -> None:
    empty = _write(tmp_path / "empty.csv", "")
    with pytest.raises(ExportFormatError) as raised:
        count_rows(empty)
    assert str(raised.value) == f"export file {str(empty)!r} is empty: no header row; {ACCEPTS}"
    short = _write(tmp_path / "short.csv", "transaction_id,amount\r\nt-1\r\n")
    with pytest.raises(ExportFormatError, match="line 2: 1 fields where the header has 2"):
        count_rows(short, ["amount"])


def test_a_file_that_is_not_utf8_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"transaction_id,amount\nt-1,1\nt-\xe9,2\n")

    with pytest.raises(ExportFormatError) as raised:
        count_rows(path, ["amount"])

    assert str(raised.value) == (
        f"export file {str(path)!r} is not UTF-8 text (byte b'\\xe9' on line 3); {ACCEPTS}"
    )


def test_a_non_utf8_header_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("Сумма,transaction_id\n1,t-1\n".encode("cp1251"))

    with pytest.raises(ExportFormatError, match=r"is not UTF-8 text \(byte b'\\xd1' on line 1\)"):
        count_rows(path, ["transaction_id"])


def test_a_malformed_row_fails_clearly(tmp_path: Path) -> None:
    path = _write(tmp_path / "export.csv", 'transaction_id,amount\nt-1,1\n"t-2,2\n')

    with pytest.raises(ExportFormatError) as raised:
        count_rows(path, ["amount"])

    assert str(raised.value) == (
        f"export file {str(path)!r}, line 3: a malformed row (unexpected end of data); {ACCEPTS}"
    )


def test_an_oversized_field_fails_clearly(tmp_path: Path) -> None:
    limit = csv.field_size_limit()
    path = _write(tmp_path / "export.csv", f"transaction_id,amount\nt-1,{'9' * (limit + 1)}\n")

    with pytest.raises(ExportFormatError) as raised:
        count_rows(path, ["amount"])

    assert str(raised.value) == (
        f"export file {str(path)!r}, line 2: a field longer than {limit:,} characters; {ACCEPTS}"
    )
