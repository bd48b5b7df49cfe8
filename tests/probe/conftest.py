"""Fixtures of the probe tests: the probe run in-process against the session sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.probe.cli import main
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import connection_json

CONN_ID = "altcraft_probe"
PROGRAM = 1
#: Seed member p-1: 500.00 stars.
MEMBER_EMAIL = "ann@example.com"
MEMBER_PROFILE = "p-1"
CURRENCY = "stars"
BASE_ARGS = (
    "--conn-id", CONN_ID,
    "--loyalty-program-id", str(PROGRAM),
    "--member", f"email:{MEMBER_EMAIL}",
    "--currency-eid", CURRENCY,
    "--export-timeout-sec", "10",
)  # fmt: skip


@dataclass
class ProbeOutcome:
    exit_code: int
    output: str
    profile: dict[str, Any] | None
    profile_text: str

    @property
    def facts(self) -> dict[str, Any]:
        assert self.profile is not None, self.output
        facts: dict[str, Any] = self.profile["facts"]
        return facts

    def facts_document(self) -> dict[str, Any]:
        assert self.profile is not None, self.output
        return self.profile

    def value(self, name: str) -> Any:
        fact = self.facts[name]
        assert fact["known"], f"{name}: {fact}\n{self.output}"
        return fact["value"]


RunProbe = Callable[..., ProbeOutcome]


@pytest.fixture
def run_probe(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> RunProbe:
    """``run_probe(*args, yes=True, **conn_extra)``: the probe on the sandbox, its profile."""
    runs = iter(range(1000))

    def run(*args: str, yes: bool = True, **extra: object) -> ProbeOutcome:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_json(sandbox.url, **extra))
        out = tmp_path / f"profile-{next(runs)}.json"
        argv = [*BASE_ARGS, "--profile-out", str(out), *args]
        if yes:
            argv.append("--yes")
        lines: list[str] = []
        code = main(argv, say=lines.append)
        text = out.read_text(encoding="utf-8") if out.exists() else ""
        return ProbeOutcome(code, "\n".join(lines), json.loads(text) if text else None, text)

    return run


def member_balance(sandbox: SandboxHandle) -> dict[str, Decimal]:
    balance = sandbox.balance(PROGRAM, MEMBER_PROFILE, CURRENCY)
    return {key: balance[key] for key in ("total_balance", "active_balance", "held_balance")}
