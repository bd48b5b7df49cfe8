"""Reading an export CSV by header name: column order and extra columns do not matter."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_altcraft.export_csv import ExportFormatError, count_rows, iter_columns


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


def test_missing_required_column_names_it_and_the_columns_present(tmp_path: Path) -> None:
    path = _write(tmp_path / "export.csv", "transaction_id,amount\r\nt-1,1.00\r\n")

    with pytest.raises(ExportFormatError) as raised:
        list(iter_columns(path, ["transaction_id", "status"]))

    message = str(raised.value)
    assert "has no column 'status'" in message
    assert "its columns are transaction_id, amount" in message


def test_empty_file_and_short_rows_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ExportFormatError, match="is empty: no header row"):
        count_rows(_write(tmp_path / "empty.csv", ""))
    short = _write(tmp_path / "short.csv", "transaction_id,amount\r\nt-1\r\n")
    with pytest.raises(ExportFormatError, match="line 2: 1 fields where the header has 2"):
        count_rows(short, ["amount"])
