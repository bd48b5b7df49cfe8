"""Shared fixtures: an isolated Airflow home, one sandbox per session, DAG-run helpers; the
test tiers' markers.

Markers (pyproject.toml) are applied here, so ``pytest -m "not dag and not slow"`` is the fast
loop (unit and HTTP tests) and CI, which selects no marker, still runs everything:

* ``dag``: the test runs real DAGs: it uses the ``airflow_db`` fixture, directly or through
  another fixture;
* ``postgres``: it needs the PostgreSQL server (uses the ``postgres_url`` fixture); these are
  ``slow`` too (a server round trip and tables per test: about a minute together);
* ``slow``: the tests listed in :data:`SLOW_TESTS` (a browser, fresh interpreters importing
  Airflow, killed processes, fault injection waiting on timeouts), besides the tests that mark
  themselves (chaos, the wheel, the distributed cluster).

The Airflow environment is fixed here, before anything imports Airflow, so the tests never
touch a user's own AIRFLOW_HOME or metadata database.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SEED_PATH = REPO / "airflow_provider_altcraft" / "sandbox" / "seed_example.json"
#: Long enough for Airflow's secrets masker (it skips secrets under 5 characters).
TOKEN = "test-token-5f1c0d9e7b3a"
#: Fast retries so fault-injection tests do not sleep for seconds.
# The tests' connection names a default currency, as a user's would: exactly-once lookups need
# one (tests/hooks/test_guide_facts.py covers a connection without it).
CONNECTION_EXTRA = {
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "retry_after_max": 2,
    "timeout": 5,
    "default_points_currency_eid": "stars",
}

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="altcraft-test-airflow-"))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# dag.test() on Airflow 3 re-parses the dags folder, so test DAGs are files written there
# (tests.dagrun.load_test_dag copies them from tests/dags) beside copies of the examples.
DAGS_DIR = _AIRFLOW_HOME / "dags"
DAGS_DIR.mkdir()
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_DIR)
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.pop("AIRFLOW_CONN_ALTCRAFT_DEFAULT", None)

#: Tests (node id prefixes under tests/) marked ``slow``: seconds each, and not what the fast
#: loop is for. CI runs them with everything else.
SLOW_TESTS: dict[str, str] = {
    "ui/": "a browser and an Airflow webserver",
    "distributed/": "a Celery cluster, or load measured over real time",
    "hooks/test_throttle.py": "rates and pauses measured over real time",
    "hooks/test_errors_and_retries.py::test_retry_after": "waits for Retry-After",
    "hooks/test_errors_and_retries.py::test_read_timeout": "waits for read timeouts",
    "hooks/test_errors_and_retries.py::test_send_once_after_a_read_timeout": (
        "waits for a read timeout"
    ),
    "sandbox/test_sandbox.py::test_temp_expiry_without_traffic": "waits for a hold to expire",
    "probe/": "the probe's full runs against the sandbox, with faults and timeouts",
    "batch/test_batch_resume.py": "batches killed mid-way and resumed",
    "sandbox/test_durable.py": "sandbox processes killed with SIGKILL",
    "sandbox/test_module_graph.py": "a fresh interpreter per module",
    "packaging/test_seed_cli.py": "the sandbox command line in subprocesses",
    "test_provider.py::test_importing_the_operators_loads_no_http_client_of_its_own": (
        "fresh interpreters importing Airflow"
    ),
    "reconcile/test_reconcile.py::test_parsing_a_dag_imports_no_engine_or_driver": (
        "a fresh interpreter importing Airflow"
    ),
    "export/test_export_atomic.py::test_deferrable_defaults_to_airflows_default_deferrable": (
        "fresh interpreters importing Airflow"
    ),
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "airflow_db" in fixtures:
            item.add_marker(pytest.mark.dag)
        if "postgres_url" in fixtures:
            item.add_marker(pytest.mark.postgres)
        if "postgres" in item.keywords:  # marked here or by the test itself
            item.add_marker(pytest.mark.slow)
        node = item.path.relative_to(REPO / "tests").as_posix() + "::" + item.name
        if any(node.startswith(prefix) for prefix in SLOW_TESTS):
            item.add_marker(pytest.mark.slow)


from airflow_provider_altcraft.sandbox import SandboxHandle, run_sandbox  # noqa: E402
from airflow_provider_altcraft.sandbox.config import SandboxConfig  # noqa: E402


def connection_json(url: str, token: str = TOKEN, **extra: object) -> str:
    """An ``AIRFLOW_CONN_*`` value in Airflow's JSON form."""
    return json.dumps(
        {
            "conn_type": "altcraft",
            "host": url,
            "password": token,
            "extra": {**CONNECTION_EXTRA, **extra},
        }
    )


@pytest.fixture(scope="session")
def sandbox_session() -> Iterator[SandboxHandle]:
    """One sandbox subprocess for the whole run, seeded with the example seed."""
    with run_sandbox(token=TOKEN, seed=SEED_PATH) as handle:
        os.environ["AIRFLOW_CONN_ALTCRAFT_DEFAULT"] = connection_json(handle.url)
        yield handle
        os.environ.pop("AIRFLOW_CONN_ALTCRAFT_DEFAULT", None)


@pytest.fixture
def sandbox(sandbox_session: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    """The session's sandbox on the example seed, with no faults and default options.

    The seed is loaded rather than reset to: a test that loads its own seed makes that the
    reset target."""
    sandbox_session.load_seed(SEED_PATH)
    sandbox_session.clear_faults()
    sandbox_session.configure(**SandboxConfig().as_dict())  # every option at its default
    sandbox_session.clear_requests()
    monkeypatch.setenv("AIRFLOW_CONN_ALTCRAFT_DEFAULT", connection_json(sandbox_session.url))
    return sandbox_session


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata DB in this run's private AIRFLOW_HOME, and the examples
    copied into its dags folder."""
    shutil.copytree(REPO / "dags_examples", DAGS_DIR, dirs_exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return _AIRFLOW_HOME
