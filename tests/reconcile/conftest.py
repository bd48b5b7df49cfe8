"""A ledger and a warehouse that differ in exactly one transaction per difference class.

The warehouse is SQLite (a file) or PostgreSQL (``ALTCRAFT_TEST_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``). Without a reachable PostgreSQL server the
PostgreSQL tests are skipped, except on CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from tests.export.ledger import add_transaction

POSTGRES_URL_ENV = "ALTCRAFT_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
WAREHOUSE_FIELDS = (
    "transaction_id",
    "transaction_eid",
    "created_at",
    "transaction_type",
    "amount",
    "status",
)
Row = tuple[str | None, str | None, str, str, str, str]


@dataclass
class Scenario:
    warehouse_rows: list[Row]
    #: (difference class, transaction_eid or else transaction_id) the report must list when
    #: the export has a status column (the sandbox's unpublished_fields option).
    expected: set[tuple[str, str]]

    def expected_without_states(self) -> set[tuple[str, str]]:
        """What the report lists from the strict sandbox's export (no status column)."""
        return {entry for entry in self.expected if entry[0] != "state_differs"}


@pytest.fixture
def scenario(sandbox: Any) -> Scenario:
    """2024-09-01 differs once per class; 2024-09-02 and 2024-09-03 are clean."""
    day = "2024-09-01T"
    add_transaction("accrue", "100.00", day + "09:00:00Z", transaction_eid="ok-1")
    add_transaction("accrue", "50.00", day + "09:10:00Z", transaction_eid="amount-1")
    add_transaction("redeem", "30.00", day + "09:20:00Z", transaction_eid="state-1")
    AltcraftHook().cancel_transaction(transaction_eid="state-1")
    add_transaction("accrue", "10.00", day + "09:30:00Z", transaction_eid="type-1")
    add_transaction("accrue", "20.00", day + "09:40:00Z", transaction_eid="only-altcraft")
    no_eid = add_transaction("accrue", "5.00", day + "09:50:00Z")  # matched on its id
    add_transaction("redeem", "15.00", day + "10:00:00Z", transaction_eid="temp-1", is_temp=True)
    AltcraftHook().commit_transaction(transaction_eid="temp-1")  # "committed" == "active"
    add_transaction("accrue", "1.00", "2024-09-02T00:00:00Z", transaction_eid="next-day")
    add_transaction("accrue", "3.00", "2024-09-03T12:00:00Z", transaction_eid="clean-1")
    rows: list[Row] = [
        (None, "ok-1", day + "09:00:00Z", "accrue", "100.00", "active"),
        (None, "amount-1", day + "09:10:00Z", "accrual", "55.00", "active"),
        (None, "state-1", day + "09:20:00Z", "redeem", "30.00", "active"),
        (None, "type-1", day + "09:30:00Z", "redeem", "10.00", "active"),
        (no_eid, None, day + "09:50:00Z", "accrual", "5.0", "active"),
        (None, "temp-1", "2024-09-01 10:00:00", "redeem", "15.00", "active"),
        (None, "only-warehouse", day + "11:00:00Z", "accrual", "40.00", "active"),
        # Outside the period: neither reported.
        (None, "prev-day", "2024-08-31T23:59:59Z", "accrual", "9.00", "active"),
        (None, "next-day", "2024-09-02T00:00:00Z", "accrual", "1.00", "active"),
        (None, "clean-1", "2024-09-03T12:00:00Z", "accrual", "3.00", "active"),
    ]
    return Scenario(
        warehouse_rows=rows,
        expected={
            ("amount_differs", "amount-1"),
            ("state_differs", "state-1"),
            ("type_differs", "type-1"),
            ("missing_in_warehouse", "only-altcraft"),
            ("missing_in_altcraft", "only-warehouse"),
        },
    )


def create_sqlite_warehouse(path: Path, rows: Sequence[Row], table: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            f"CREATE TABLE {table} (transaction_id TEXT, transaction_eid TEXT, created_at TEXT, "
            "transaction_type TEXT, amount NUMERIC, status TEXT)"
        )
        db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.close()


@pytest.fixture
def sqlite_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Connection ``warehouse`` → an empty SQLite file."""
    path = tmp_path / "warehouse.db"
    sqlite3.connect(path).close()
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    return path


@pytest.fixture
def postgres_url() -> str:
    """The test server's URL; skip (or fail on CI) when it cannot be reached."""
    return require_postgres(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL))


def require_postgres(url: str) -> str:
    try:
        import psycopg2

        psycopg2.connect(url, connect_timeout=3).close()
    except Exception as exc:  # ImportError included: no driver, no PostgreSQL tests
        message = f"PostgreSQL at {url} is not usable ({type(exc).__name__}: {exc})".strip()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must run the PostgreSQL tests")
        pytest.skip(
            f"{message}; to run these tests start PostgreSQL, install "
            f"apache-airflow-providers-postgres and set {POSTGRES_URL_ENV} if it is not at "
            f"{DEFAULT_POSTGRES_URL}"
        )
    return url


@pytest.fixture
def postgres_tables(postgres_url: str) -> Iterator[list[str]]:
    """Unique table names for one test, all dropped afterwards."""
    import psycopg2

    names: list[str] = []
    yield names
    with psycopg2.connect(postgres_url) as db, db.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    db.close()


def unique_table(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def create_postgres_warehouse(url: str, rows: Sequence[Row], table: str) -> None:
    import psycopg2

    with psycopg2.connect(url) as db, db.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {table} (transaction_id TEXT, transaction_eid TEXT, "
            "created_at TIMESTAMPTZ, transaction_type TEXT, amount NUMERIC(12, 2), status TEXT)"
        )
        cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)", rows)
    db.close()


#: Every engine; pushdown needs the PostgreSQL server (skipped without it, failed on CI).
ENGINE_PARAMS = [
    "sqlite",
    "duckdb",
    pytest.param("pushdown", marks=pytest.mark.postgres),
]


@pytest.fixture(params=ENGINE_PARAMS)
def engine(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "pushdown":
        request.getfixturevalue("postgres_url")
    return name


@pytest.fixture
def open_engine(engine: str, tmp_path: Path) -> Any:
    """``open_engine(**options)``: a fresh reconciler of the test's engine."""
    from airflow_provider_altcraft.reconcile import open_reconciler

    def make(**options: Any) -> Any:
        connection = None
        if engine == "pushdown":
            import psycopg2

            connection = psycopg2.connect(os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL))
        directory = tmp_path / f"work-{uuid.uuid4().hex[:8]}"
        directory.mkdir()
        return open_reconciler(engine, directory, connection=connection, **options)

    return make
