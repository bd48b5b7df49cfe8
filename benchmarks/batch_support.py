"""What the batch benchmarks share: a private Airflow home, a sandbox seed with many members,
an Altcraft connection in the environment, and row/request builders.

Import this module before anything imports Airflow.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="altcraft-bench-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

TOKEN = "bench-token-7c1d2e"
CONN_ID = "altcraft_bench"
MEMBERS = 200
REDEEM_PATH = "/api/v1.1/loyalty/redeeme_points"


def seed() -> dict[str, Any]:
    """MEMBERS members with a balance no benchmark can exhaust."""
    return {
        "programs": [{"id": 1, "currencies": [{"iid": 1, "eid": "stars", "default": True}]}],
        "profiles": [
            {"profile_id": f"m-{i}", "email": f"m{i}@example.com"} for i in range(MEMBERS)
        ],
        "members": [
            {"program_id": 1, "profile_id": f"m-{i}", "balances": {"stars": "999999999"}}
            for i in range(MEMBERS)
        ],
    }


def use_connection(url: str, **extra: Any) -> None:
    """Point connection ``altcraft_bench`` at the sandbox (the hook reads it from the env)."""
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "altcraft", "host": url, "password": TOKEN, "extra": extra}
    )


def row(n: int) -> dict[str, Any]:
    return {"email": f"m{n % MEMBERS}@example.com", "amount": "1.00"}


def rows(count: int) -> Iterator[dict[str, Any]]:
    return (row(n) for n in range(count))


def payload(n: int, tag: str) -> dict[str, Any]:
    """A redeem body as a naive client would write it (with a unique eid)."""
    return {
        "loyalty_program_id": 1,
        "amount": "1.00",
        "matching": "email",
        "email": f"m{n % MEMBERS}@example.com",
        "transaction_eid": f"{tag}-{n}",
        "is_temp": False,
    }


def write_csv(path: Path, count: int) -> Path:
    with open(path, "w", encoding="utf-8") as out:
        out.write("order_id,email,amount\n")
        for n in range(count):
            out.write(f"o-{n},m{n % MEMBERS}@example.com,1.00\n")
    return path


def median_line(name: str, values: list[float], unit: str) -> str:
    rounds = ", ".join(f"{v:.0f}" for v in values)
    return f"  {name:<44} {statistics.median(values):>9.0f} {unit}   ({rounds})"
