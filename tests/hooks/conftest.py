"""Fixtures of the hook tests: hooks on the session sandbox, with any connection shape."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import Matching
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import TOKEN, connection_json

PROGRAM = 1
#: Seed profiles: p-1 holds 500.00 stars and 20.00 miles, p-2 120.50 stars, p-3 nothing.
ANN = Matching.by_email("ann@example.com")
BOB = Matching.by_profile_id("p-2")
CID = Matching.by_profile_id("p-3")
REDEEM = "loyalty/redeeme_points"
ACCRUE = "loyalty/accrue_points"
BALANCE = "loyalty/account/balance"
ACCOUNT_TRANSACTIONS = "loyalty/account/transactions"

MakeHook = Callable[..., AltcraftHook]


def api_calls(sandbox: SandboxHandle, method: str) -> list[dict[str, Any]]:
    """The sandbox's request log entries for one API method, oldest first."""
    return [entry for entry in sandbox.requests() if entry["method"] == method]


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def hook(sandbox: SandboxHandle) -> Iterator[AltcraftHook]:
    """A hook on ``altcraft_default`` (the sandbox, fast retries)."""
    hook = AltcraftHook()
    yield hook
    hook.close()


@pytest.fixture
def make_hook(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeHook]:
    """``make_hook(conn_id, url=..., token=..., **extra)``: a hook on a connection of its own.

    The connection points at the sandbox with the test token unless told otherwise; ``extra``
    is merged over the fast-retry extras of tests/conftest.py.
    """
    made: list[AltcraftHook] = []

    def make(
        conn_id: str = "altcraft_custom",
        *,
        url: str | None = None,
        token: str = TOKEN,
        **extra: object,
    ) -> AltcraftHook:
        value = connection_json(sandbox.url if url is None else url, token, **extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
        made.append(AltcraftHook(conn_id))
        return made[-1]

    yield make
    for hook in made:
        hook.close()
