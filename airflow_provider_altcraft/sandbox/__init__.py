"""Altcraft sandbox: a local, faithful stand-in for the Altcraft loyalty API v1.1.

Pure standard library (no Airflow import anywhere), so it starts fast and can run in any
environment. See docs/sandbox.md and docs/sandbox-wire.md for the behaviour it implements and
the choices it makes where the real API is undocumented.

Typical use in tests::

    from airflow_provider_altcraft.sandbox import run_sandbox

    with run_sandbox(token="t", seed=SEED_EXAMPLE) as sb:
        ...  # point the client at sb.url with sb.token; inspect sb.ledger()
"""

from __future__ import annotations

from pathlib import Path

from airflow_provider_altcraft.sandbox.app import SandboxApp
from airflow_provider_altcraft.sandbox.config import ConfigError, SandboxConfig
from airflow_provider_altcraft.sandbox.faults import FAULT_KINDS, FaultError
from airflow_provider_altcraft.sandbox.ledger import EXPORT_CSV_COLUMNS, Ledger, Match
from airflow_provider_altcraft.sandbox.seed import SeedError, parse_seed
from airflow_provider_altcraft.sandbox.server import SANDBOX_HEADER, SandboxServer
from airflow_provider_altcraft.sandbox.testing import SandboxError, SandboxHandle, run_sandbox
from airflow_provider_altcraft.sandbox.values import ApiError

# The demo seed shipped with the package (programs 1 and 2, five profiles, members, promotions).
SEED_EXAMPLE = Path(__file__).with_name("seed_example.json")

__all__ = [
    "EXPORT_CSV_COLUMNS",
    "FAULT_KINDS",
    "SANDBOX_HEADER",
    "SEED_EXAMPLE",
    "ApiError",
    "ConfigError",
    "FaultError",
    "Ledger",
    "Match",
    "SandboxApp",
    "SandboxConfig",
    "SandboxError",
    "SandboxHandle",
    "SandboxServer",
    "SeedError",
    "parse_seed",
    "run_sandbox",
]
