"""Bad arguments fail before any request, with a message naming the argument: static ones when
the DAG is parsed, templated ones when the task runs (without retries). See bad_inputs.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.compat import AIRFLOW_V_3
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.operators.loyalty import (
    AltcraftAccruePointsOperator,
    AltcraftRedeemPointsOperator,
)
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.dagrun import DagRunResult, copy_dag_file, dags_dir, load_test_dag
from tests.operators.bad_inputs import CASES, CONTROL_TASK, VALID, BadInput
from tests.operators.conftest import api_methods, api_transactions, load_example_seed, run
from tests.operators.dag_support import read_failures

OPERATORS = {"redeem": AltcraftRedeemPointsOperator, "accrue": AltcraftAccruePointsOperator}
CASE_IDS = [bad.case_id for bad in CASES]


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len(set(CASE_IDS)) == len(CASES)
    assert {bad.native for bad in CASES} == {True, False}


@pytest.mark.parametrize("bad", CASES, ids=CASE_IDS)
def test_static_bad_argument_fails_when_the_dag_is_parsed(bad: BadInput) -> None:
    with pytest.raises(AltcraftValidationError) as error:
        OPERATORS[bad.operator](task_id="bad", **bad.static_arguments())

    assert error.value.parameter == bad.parameter
    assert str(error.value).startswith(f"{bad.parameter}: ")


def test_a_static_mistake_is_an_import_error_of_the_dag_file(tmp_path: Path) -> None:
    if AIRFLOW_V_3:
        from airflow.dag_processing.dagbag import DagBag

        options = {}
    else:
        from airflow.models.dagbag import DagBag

        options = {"include_examples": False}
    # A DAG file whose redeem has a static amount of '1e3' (tests/dags/static_arguments.py).
    static_mistake = {
        "dag_id": "static_mistake",
        "operator": "redeem",
        "arguments": {
            "loyalty_program_id": 1,
            "profile_id": "p-1",
            "amount": "1e3",
            "points_currency_eid": "stars",
        },
    }
    dag_file = copy_dag_file("static_arguments", tmp_path, static_mistake)

    bag = DagBag(dag_folder=str(dag_file), **options)

    assert bag.dags == {}
    (error,) = bag.import_errors.values()
    assert "AltcraftValidationError: amount: '1e3' is not a plain decimal number" in error


@dataclass
class TableRuns:
    results: dict[str, DagRunResult]
    failures: dict[str, dict[str, Any]]
    methods: list[str]


@pytest.fixture(scope="module")
def table_runs(sandbox_session: SandboxHandle, airflow_db: Path) -> TableRuns:
    """Both rendering modes of the table, run once for every case of this module."""
    load_example_seed(sandbox_session)
    results: dict[str, DagRunResult] = {}
    failures: dict[str, dict[str, Any]] = {}
    for native in (False, True):
        dag_id = "bad_inputs_native" if native else "bad_inputs_jinja"
        # One task per bad argument of the table, rendered as strings or as native objects.
        dag = load_test_dag("bad_inputs_table", dag_id)
        result = run(dag)
        for (task_id, _), failure in read_failures(dag_id).items():
            failures[task_id] = failure
        results.update({task_id: result for task_id in dag.task_ids})
    return TableRuns(results, failures, api_methods(sandbox_session))


@pytest.mark.parametrize("bad", CASES, ids=CASE_IDS)
def test_templated_bad_argument_fails_the_task_without_retry_and_without_request(
    bad: BadInput, table_runs: TableRuns
) -> None:
    result = table_runs.results[bad.case_id]

    assert result.state_of(bad.case_id) == "failed"
    assert result.try_numbers[(bad.case_id, -1)] == 1  # retries=2 were not used
    failure = table_runs.failures[bad.case_id]
    assert failure["type"] == "AirflowFailException"
    assert failure["message"].startswith(f"Invalid argument: {bad.parameter}: ")
    # Only the valid control task of the same DAG reached the sandbox.
    assert table_runs.results[CONTROL_TASK].state_of(CONTROL_TASK) == "success"
    assert table_runs.methods == ["loyalty/redeeme_points"]


def test_messages_name_profile_email_not_the_api_field() -> None:
    with pytest.raises(AltcraftValidationError) as inferred:
        AltcraftRedeemPointsOperator(task_id="t", **VALID, phone="+15550000001")
    with pytest.raises(AltcraftValidationError) as contradiction:
        AltcraftRedeemPointsOperator(task_id="t", **VALID, matching="email", profile_id="p-1")
    with pytest.raises(AltcraftValidationError) as invalid:
        AltcraftRedeemPointsOperator(task_id="t", **{**VALID, "profile_email": "ann"})

    assert "(got profile_email, phone)" in str(inferred.value)
    assert str(contradiction.value).endswith("with matching='email' pass only profile_email")
    assert str(invalid.value).startswith("profile_email: is not an email address; ")


@pytest.mark.filterwarnings("ignore:Setting email")
def test_alert_address_and_mapped_rows(altcraft: SandboxHandle) -> None:
    # default_args carry Airflow's own alert address (tests/dags/operator_arguments.py).
    dag = load_test_dag("operator_arguments", "operator_arguments")
    try:
        result = run(dag)
    finally:
        # Airflow's warnings about task-level e-mail settings would follow every later parse.
        (dags_dir() / "operator_arguments.py").unlink()

    # default_args' "email" stays Airflow's alert address: it is not taken for the customer.
    assert dag.get_task("by_email").email == ["oncall@example.org"]
    assert dag.get_task("by_phone").email == ["oncall@example.org"]
    assert result.state_of("by_phone") == "success"
    assert result.state_of("by_email") == "success"
    redeemed = {(t["profile_id"], t["amount"]) for t in api_transactions(altcraft)}
    assert redeemed == {("p-2", "2.00"), ("p-1", "3.00"), ("p-2", "4.00")}
    # A bad mapped row fails at run time like a templated argument: once, no retry.
    assert result.state_of("mapped", 0) == "failed"
    assert result.try_numbers[("mapped", 0)] == 1
    failure = read_failures("operator_arguments")[("mapped", 0)]
    assert failure["type"] == "AirflowFailException"
    assert failure["message"].startswith("Invalid argument: amount: 'abc'")
    assert result.state_of("mapped", 1) == "success"
