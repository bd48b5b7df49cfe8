"""Fixtures of the batch tests: a seed with many members, row builders, the ledger checks."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.sandbox import SandboxHandle

#: Members b-0 .. b-49, each with this many stars: enough for every test's redemptions.
MEMBERS = 50
OPENING = Decimal("10000.00")


def batch_seed() -> dict[str, Any]:
    profiles = [
        {"profile_id": f"b-{i}", "email": f"member{i}@example.com", "phone": f"+1555100{i:04d}"}
        for i in range(MEMBERS)
    ]
    members = [
        {"program_id": 1, "profile_id": f"b-{i}", "balances": {"stars": str(OPENING)}}
        for i in range(MEMBERS)
    ]
    return {
        "programs": [
            {
                "id": 1,
                "name": "Stars",
                "currencies": [{"iid": 1, "eid": "stars", "default": True}],
            }
        ],
        "profiles": profiles,
        "members": members,
    }


def make_rows(count: int, *, start: int = 1) -> list[dict[str, Any]]:
    """Rows spread over every member; amounts 1.01, 1.02 ... exact decimals."""
    return [
        {
            "order_id": f"order-{n}",
            "email": f"member{n % MEMBERS}@example.com",
            "amount": str(Decimal(100 + n % 50) / 100),
        }
        for n in range(start, start + count)
    ]


@pytest.fixture
def batch_sandbox(sandbox: SandboxHandle, airflow_db: Path) -> Iterator[SandboxHandle]:
    """The session sandbox loaded with the batch seed (the ``sandbox`` fixture brings the
    example seed back for the next test)."""
    sandbox.load_seed(batch_seed())
    yield sandbox


def batch_transactions(sandbox: SandboxHandle) -> list[dict[str, Any]]:
    """Every transaction a test created (opening balances excluded)."""
    return [t for t in sandbox.ledger()["transactions"] if t["transaction_eid"]]


def assert_each_once(sandbox: SandboxHandle, expected: int) -> list[dict[str, Any]]:
    """Exactly ``expected`` transactions, no eid twice; returns them."""
    transactions = batch_transactions(sandbox)
    repeated = {eid: n for eid, n in Counter(t["transaction_eid"] for t in transactions).items()
                if n > 1}  # fmt: skip
    assert repeated == {}, f"sent more than once: {repeated}"
    assert len(transactions) == expected
    return transactions


def expected_balances(rows: list[dict[str, Any]], sign: int = -1) -> dict[str, Decimal]:
    balances = {f"b-{i}": OPENING for i in range(MEMBERS)}
    for row in rows:
        member = f"b-{int(row['email'].removeprefix('member').split('@')[0])}"
        balances[member] += sign * Decimal(row["amount"])
    return balances


def ledger_balances(sandbox: SandboxHandle) -> dict[str, Decimal]:
    return {
        b["profile_id"]: Decimal(b["total_balance"])
        for b in sandbox.ledger()["balances"]
        if b["points_currency_eid"] == "stars"
    }


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    import csv

    columns = sorted({key for row in rows for key in row})
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
