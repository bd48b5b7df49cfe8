"""A real Airflow 3 api-server (UI + REST API v2) for the connection-form tests, and a browser.

The server runs as a subprocess with an AIRFLOW_HOME and SQLite metadata DB of its own, the
simple auth manager with every user an admin, and connection testing enabled. It starts once
per module and is stopped (its whole process group) when the module ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.ui.webdriver import Browser, chromium_session, find_browser

START_TIMEOUT_SEC = 120.0
STOP_TIMEOUT_SEC = 20.0


def airflow_major() -> int:
    from airflow import __version__

    return int(__version__.split(".")[0])


#: For the modules that need /api/v2 and the React UI.
requires_airflow_3 = pytest.mark.skipif(
    airflow_major() < 3,
    reason="Airflow 2 has no api-server, /api/v2 or React connection form (tests/ui/"
    "test_connection_form_airflow2.py covers its Flask form and REST API v1)",
)


@dataclass
class ApiServer:
    url: str
    http: requests.Session
    log: Path

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.url + path, timeout=60, **kwargs)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_env(home: Path) -> dict[str, str]:
    # Nothing of the test run's own Airflow settings or connections leaks into the server.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
        and key != "AIRFLOW_HOME"
    }
    (home / "dags").mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(64),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """``airflow api-server`` on a free loopback port, with a freshly migrated DB."""
    if airflow_major() < 3:
        pytest.skip("Airflow 2 has no api-server")
    home = tmp_path_factory.mktemp("airflow-api-server")
    env = _server_env(home)
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    if migrate.returncode != 0:
        pytest.fail(
            f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}"
        )
    port = _free_port()
    log = home / "api-server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow",
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: workers are stopped with it
        )
    url = f"http://127.0.0.1:{port}"
    http = requests.Session()
    http.trust_env = False  # loopback only, never a proxy
    server = ApiServer(url, http, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SEC
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"airflow api-server exited with {proc.returncode}:\n{server.log_tail()}"
                )
            try:
                if http.get(f"{url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                waited = f"{START_TIMEOUT_SEC:g}s"
                pytest.fail(f"airflow api-server did not answer in {waited}:\n{server.log_tail()}")
            time.sleep(0.5)
        # The token the UI gets too (all users are admins; no password to send).
        token = http.get(f"{url}/auth/token", timeout=30).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield server
    finally:
        http.close()
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_SEC)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # Workers left behind by a parent that died first.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Headless Chromium driven over W3C WebDriver (Debian's chromium + chromium-driver)."""
    found = find_browser()
    if found is None:
        reason = (
            "needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver)"
        )
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"CI=true, so the browser test must run, but it {reason}", pytrace=False)
        pytest.skip(reason)
    chromium, chromedriver = found
    with chromium_session(chromium, chromedriver, tmp_path_factory.mktemp("chromium")) as session:
        yield session
