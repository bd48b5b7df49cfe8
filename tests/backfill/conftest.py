"""The demo warehouse (scripts/create_demo_warehouse.py) behind connection altcraft_warehouse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture
def demo_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "warehouse.db"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "create_demo_warehouse.py"), "--sqlite", str(path)],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALTCRAFT_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(path)})
    )
    return path
