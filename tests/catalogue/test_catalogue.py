"""Every case of the bad-input catalogue (bad_inputs.py) is refused with one clear sentence
naming the parameter, before anything reaches the ledger."""

from __future__ import annotations

import importlib
import json
import sqlite3
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from airflow_provider_altcraft.compat import AirflowFailException
from airflow_provider_altcraft.exceptions import AltcraftConfigError, AltcraftValidationError
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.catalogue.bad_inputs import (
    CASES,
    DROP,
    GOOD_ROW,
    HOOK_VALID,
    OPERATOR_VALID,
    SANDBOX_VALID,
    TMP_DIR,
    Case,
    operator_module,
)
from tests.conftest import TOKEN

KINDS = ("hook", "operator", "connection", "batch_row", "batch_file", "sql", "sandbox_http")


def params(kind: str) -> list[Any]:
    return [pytest.param(case, id=case.case_id) for case in CASES if case.kind == kind]


def with_changes(valid: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**valid, **changes}
    return {name: value for name, value in merged.items() if value is not DROP}


def assert_clear(message: str, parameter: str) -> None:
    """One clear sentence: it names the parameter, and holds no traceback and no token."""
    assert parameter in message, message
    assert "Traceback" not in message and 'File "' not in message, message
    assert TOKEN not in message, message
    for raw_error in ("UnicodeDecodeError", "JSONDecodeError", "_csv.Error", "sqlite3."):
        assert raw_error not in message, message


def test_the_catalogue_is_large_and_covers_every_kind() -> None:
    counts = Counter(case.kind for case in CASES)
    assert len(CASES) >= 200, counts
    assert set(counts) == set(KINDS)
    ids = [case.id for case in CASES]
    assert len(set(ids)) == len(ids), [i for i, n in Counter(ids).items() if n > 1]


# -- hook -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", params("hook"))
def test_hook_argument(case: Case, sandbox: SandboxHandle, tmp_path: Path) -> None:
    hook = AltcraftHook()
    arguments = {
        name: value.replace(TMP_DIR, str(tmp_path)) if isinstance(value, str) else value
        for name, value in with_changes(HOOK_VALID[case.target], case.arguments).items()
    }
    try:
        with pytest.raises(AltcraftValidationError) as caught:
            getattr(hook, case.target)(**arguments)
    finally:
        hook.close()

    assert caught.value.parameter == case.parameter
    assert str(caught.value).startswith(f"{case.parameter}: ")
    assert_clear(str(caught.value), case.parameter)
    assert sandbox.requests() == []
    assert list(tmp_path.parent.glob(f"{tmp_path.name}*.part")) == []  # nothing left behind


# -- operator (parse time) --------------------------------------------------------------------


@pytest.mark.parametrize("case", params("operator"))
def test_operator_argument_at_parse_time(case: Case) -> None:
    operator_class = getattr(importlib.import_module(operator_module(case.target)), case.target)
    arguments = with_changes(OPERATOR_VALID[case.target], case.arguments)

    with pytest.raises(AltcraftValidationError) as caught:
        operator_class(task_id="catalogue", **arguments)

    assert caught.value.parameter == case.parameter
    assert str(caught.value).startswith(f"{case.parameter}: ")
    assert_clear(str(caught.value), case.parameter)


# -- connection -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", params("connection"))
def test_connection_setting(
    case: Case, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {"conn_type": "altcraft", "host": sandbox.url, "password": TOKEN, **case.arguments}
    monkeypatch.setenv("AIRFLOW_CONN_ALTCRAFT_CATALOGUE", json.dumps(fields))
    hook = AltcraftHook("altcraft_catalogue")

    with pytest.raises(AltcraftConfigError) as caught:
        hook.get_balance(loyalty_program_id=1, matching=HOOK_VALID["get_balance"]["matching"])

    message = str(caught.value)
    assert message.startswith("Connection 'altcraft_catalogue': ")
    named = f"extra '{case.parameter}'" if "extra" in case.arguments else f" {case.parameter} "
    assert named in message
    assert_clear(message, case.parameter)
    assert "secret-part" not in message
    assert sandbox.requests() == []


# -- batch rows, files, SQL: the operator's execute, which fails without a retry ---------------


def run_batch(tmp_path: Path, **arguments: Any) -> AirflowFailException:
    from airflow_provider_altcraft.operators.batch import AltcraftBatchRedeemPointsOperator

    operator = AltcraftBatchRedeemPointsOperator(
        task_id="catalogue_batch",
        loyalty_program_id=1,
        points_currency_eid="stars",
        results_path=str(tmp_path / "results.csv"),
        **arguments,
    )
    ti = SimpleNamespace(
        dag_id="catalogue", task_id="catalogue_batch", run_id="manual__1", map_index=-1,
        try_number=1,
    )  # fmt: skip
    with pytest.raises(AirflowFailException) as caught:
        operator.execute(cast(Any, {"ti": ti}))
    return caught.value


def assert_batch_refusal(error: AirflowFailException, parameter: str, sandbox: Any) -> None:
    message = str(error)
    assert_clear(message, parameter)
    assert sandbox.requests() == []
    assert [t for t in sandbox.ledger()["transactions"] if t["transaction_eid"]] == []


@pytest.mark.parametrize("case", params("batch_row"))
def test_batch_row(case: Case, sandbox: SandboxHandle, tmp_path: Path) -> None:
    options = dict(case.arguments)
    bad = options.pop("row")
    constants = options.pop("constants", {})
    mapping = options.get("column_mapping", {})
    good = {next((s for s, t in mapping.items() if t == k), k): v for k, v in GOOD_ROW.items()}

    error = run_batch(tmp_path, rows=[good, bad, good], **options, **constants)

    assert f"row 2, column {case.parameter}: " in str(error)
    assert "Nothing was sent" in str(error)
    assert_batch_refusal(error, case.parameter, sandbox)


@pytest.mark.parametrize("case", params("batch_file"))
def test_batch_file(case: Case, sandbox: SandboxHandle, tmp_path: Path) -> None:
    name = case.arguments["name"]
    path = tmp_path / (name or "missing.csv")
    if name:
        path.write_bytes(case.arguments["content"])

    error = run_batch(tmp_path, rows_file=str(path))

    assert_batch_refusal(error, case.parameter, sandbox)


@pytest.fixture
def catalogue_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "catalogue.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE adjustments (email TEXT, amount TEXT, day TEXT)")
        conn.execute("INSERT INTO adjustments VALUES ('ann@example.com', '1.00', '2024-09-01')")
    conn.close()
    monkeypatch.setenv(
        "AIRFLOW_CONN_CATALOGUE_DB", json.dumps({"conn_type": "sqlite", "host": str(db)})
    )
    return db


@pytest.mark.parametrize("case", params("sql"))
def test_sql_input(case: Case, sandbox: SandboxHandle, catalogue_db: Path, tmp_path: Path) -> None:
    error = run_batch(tmp_path, **case.arguments)

    if not case.parameter.startswith("row "):
        assert f"{case.parameter}: " in str(error)
    assert_batch_refusal(error, case.parameter, sandbox)


# -- raw HTTP to the sandbox ------------------------------------------------------------------


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("case", params("sandbox_http"))
def test_sandbox_http(case: Case, sandbox: SandboxHandle) -> None:
    before = sandbox.ledger()
    body = {**with_changes(SANDBOX_VALID[case.target], case.arguments), "token": TOKEN}

    status, envelope = post(f"{sandbox.url}/api/v1.1/{case.target}", body)

    # Altcraft answers application errors in the envelope (HTTP 200 by default, see the
    # sandbox's app_error_http_status); only the envelope's error says it was refused.
    assert status in (200, 400), envelope
    assert envelope["error"] != 0, envelope
    assert_clear(envelope["error_text"], case.parameter)
    assert sandbox.ledger() == before
