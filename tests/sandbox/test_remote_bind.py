"""A non-loopback bind address needs --allow-remote / allow_remote=True (and warns).

Tests bind loopback addresses only: refusals are checked with nothing bound (the bind is
patched to fail, or the address is TEST-NET-1 192.0.2.1, which no local interface has).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_altcraft.sandbox import SandboxApp, SandboxError, run_sandbox
from airflow_provider_altcraft.sandbox import cli as cli_module
from airflow_provider_altcraft.sandbox.http import HttpServer
from airflow_provider_altcraft.sandbox.server import (
    RemoteBindError,
    SandboxServer,
    check_bind_host,
    is_loopback_host,
)

ROOT = Path(__file__).resolve().parents[2]
NOT_LOCAL = "192.0.2.1"  # TEST-NET-1 (RFC 5737): binding it fails, so nothing can listen


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("::ffff:10.0.0.1", False),
        (NOT_LOCAL, False),
        ("10.1.2.3", False),
        ("no-such-host.invalid", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
    if loopback:
        assert check_bind_host(host, allow_remote=False) is None
    else:
        with pytest.raises(RemoteBindError, match="--allow-remote"):
            check_bind_host(host, allow_remote=False)
        warning = check_bind_host(host, allow_remote=True)
        assert warning is not None and "WARNING" in warning


@pytest.fixture
def no_bind(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Any bind attempt is recorded and fails (nothing ever listens)."""
    attempts: list[tuple[str, int]] = []

    async def start(self: HttpServer, host: str, port: int) -> int:
        attempts.append((host, port))
        raise OSError("bind disabled in this test")

    monkeypatch.setattr(HttpServer, "start", start)
    return attempts


def test_cli_refuses_a_non_loopback_host(
    no_bind: list[tuple[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    for host in ("0.0.0.0", "::", NOT_LOCAL):
        assert cli_module.main(["--host", host, "--port", "0"]) == 2
        err = capsys.readouterr()
        assert "not a loopback address" in err.err and "--allow-remote" in err.err
        assert "listening" not in err.out
    assert no_bind == []  # refused before any bind


def test_cli_allow_remote_warns_then_binds(
    no_bind: list[tuple[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_module.main(["--host", "0.0.0.0", "--port", "0", "--allow-remote"]) == 1
    assert "WARNING: listening on '0.0.0.0'" in capsys.readouterr().err
    assert no_bind == [("0.0.0.0", 0)]  # it tried (and the patched bind failed)


def test_cli_loopback_needs_no_flag_and_does_not_warn(
    no_bind: list[tuple[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_module.main(["--host", "127.0.0.2", "--port", "0", "--allow-remote"]) == 1
    assert "WARNING" not in capsys.readouterr().err
    assert no_bind == [("127.0.0.2", 0)]


def _child(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "airflow_provider_altcraft.sandbox", "--port", "0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=30)


def test_the_real_command_refuses_and_warns() -> None:
    refused = _child("--host", NOT_LOCAL)
    assert refused.returncode == 2
    assert "--allow-remote" in refused.stderr and "listening" not in refused.stdout
    allowed = _child("--host", NOT_LOCAL, "--allow-remote")
    assert "WARNING" in allowed.stderr
    assert allowed.returncode == 1  # the bind itself fails: no interface has this address
    assert "listening" not in allowed.stdout


def test_server_and_run_sandbox_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RemoteBindError):
        SandboxServer(SandboxApp(token="t"), host="0.0.0.0")

    def no_child(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a sandbox process was started")

    monkeypatch.setattr(subprocess, "Popen", no_child)
    for in_process in (False, True):
        with (
            pytest.raises(SandboxError, match="allow_remote"),
            run_sandbox(host="0.0.0.0", in_process=in_process),
        ):
            pass


@pytest.mark.parametrize("in_process", [False, True])
def test_127_0_0_2_is_loopback_and_allowed(in_process: bool) -> None:
    with run_sandbox(token="t", host="127.0.0.2", in_process=in_process) as sb:
        assert sb.url.startswith("http://127.0.0.2:")
        assert sb.health()
        answer = requests.post(f"{sb.url}/api/v1.1/tasks/status", json={"token": "t"}, timeout=5)
        assert answer.headers["X-Altcraft-Sandbox"] == "1"
        assert "WARNING" not in sb.stderr()
