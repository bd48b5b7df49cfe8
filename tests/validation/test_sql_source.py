"""SQL input mistakes are one clear sentence naming the argument, never a driver traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_altcraft.batch.rows import RowSource
from airflow_provider_altcraft.exceptions import AltcraftValidationError


@pytest.fixture
def orders_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "orders.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (email TEXT, amount TEXT, day TEXT)")
        conn.execute("INSERT INTO orders VALUES ('member1@example.com', '1.00', '2024-09-01')")
    conn.close()
    monkeypatch.setenv(
        "AIRFLOW_CONN_ORDERS_DB", json.dumps({"conn_type": "sqlite", "host": str(db)})
    )
    return db


def read(sql: str, parameters: object = None, conn_id: str = "orders_db") -> list[object]:
    source = RowSource.build(sql=sql, sql_conn_id=conn_id, sql_parameters=parameters)
    return list(source.read())


@pytest.mark.parametrize(
    ("sql", "parameters", "parameter", "problem"),
    [
        ("SELECT * FROM no_such_table", None, "sql", "no such table: no_such_table"),
        ("SELECT no_such_column FROM orders", None, "sql", "no such column: no_such_column"),
        ("SELEC * FROM orders", None, "sql", "syntax error"),
        ("SELECT * FROM orders WHERE day = ?", None, "sql_parameters", "binding"),
        ("SELECT * FROM orders WHERE day = ?", ["2024-09-01", "x"], "sql_parameters", "binding"),
        ("SELECT * FROM orders WHERE day = :day", {"other": 1}, "sql_parameters", "day"),
        ("SELECT 1; SELECT 2", None, "sql", "one statement"),
    ],
)
def test_sql_input_errors_are_one_sentence(
    orders_db: Path, sql: str, parameters: object, parameter: str, problem: str
) -> None:
    with pytest.raises(AltcraftValidationError) as caught:
        read(sql, parameters)

    message = str(caught.value)
    assert caught.value.parameter == parameter, message
    assert problem in message
    assert "Traceback" not in message and "sqlite3." not in message
    assert len(message.splitlines()) == 1


def test_an_undefined_connection_is_one_sentence(orders_db: Path) -> None:
    with pytest.raises(AltcraftValidationError) as caught:
        read("SELECT * FROM orders", conn_id="no_such_connection")

    assert str(caught.value).startswith(
        "sql_conn_id: connection 'no_such_connection' is not defined"
    )


def test_a_good_query_still_reads(orders_db: Path) -> None:
    assert read("SELECT * FROM orders WHERE day = ?", ["2024-09-01"]) == [
        (1, {"email": "member1@example.com", "amount": "1.00", "day": "2024-09-01"})
    ]
