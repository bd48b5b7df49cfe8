"""What following the public Altcraft guide means for the redeem/accrue/commit operators, in
real DAG runs against the sandbox:

* ``loyalty/account/transactions`` (the exactly-once eid lookups) requires a currency, so
  redeem and accrue require one too: a static omission fails the DAG import, a template
  rendering empty fails the task without retry and without any request; the connection's
  ``default_points_currency_eid`` is reachable with a template.
* Committing a temporary accrual creates a new full transaction (new id, same eid).
* Altcraft publishes no transaction state: an eid found with none is taken as applied.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.compat import AIRFLOW_V_3
from airflow_provider_altcraft.exceptions import AltcraftEidSettledError, AltcraftValidationError
from airflow_provider_altcraft.operators.batch import AltcraftBatchPointsOperator
from airflow_provider_altcraft.operators.loyalty import (
    AltcraftAccruePointsOperator,
    AltcraftRedeemPointsOperator,
)
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import REPO, connection_json
from tests.dagrun import copy_dag_file, load_test_dag
from tests.operators.conftest import (
    ANN_STARS,
    BOB_STARS,
    api_methods,
    api_transactions,
    rerun,
    run,
    stars,
)
from tests.operators.dag_support import read_failures

OPERATORS = {"redeem": AltcraftRedeemPointsOperator, "accrue": AltcraftAccruePointsOperator}
CONNECTION_DEFAULT_TEMPLATE = "{{ conn.%s.extra_dejson.get('default_points_currency_eid', '') }}"
LOOKUP = "loyalty/account/transactions"
REDEEM = "loyalty/redeeme_points"


def import_errors(dag_file: Path) -> dict[str, str]:
    if AIRFLOW_V_3:
        from airflow.dag_processing.dagbag import DagBag

        options: dict[str, Any] = {}
    else:
        from airflow.models.dagbag import DagBag

        options = {"include_examples": False}
    bag = DagBag(dag_folder=str(dag_file), **options)
    assert bag.dags == {}
    return dict(bag.import_errors)


# ---------------------------------------------------------------- (a) parse time


@pytest.mark.parametrize("operation", sorted(OPERATORS))
@pytest.mark.parametrize("conn_id", ["altcraft_default", "altcraft_eu"])
def test_no_currency_fails_the_constructor_naming_the_fix(operation: str, conn_id: str) -> None:
    with pytest.raises(AltcraftValidationError) as error:
        OPERATORS[operation](
            task_id="no_currency",
            altcraft_conn_id=conn_id,
            loyalty_program_id=1,
            profile_id="p-1",
            amount="5.00",
        )

    assert error.value.parameter == "points_currency_eid"
    message = str(error.value)
    assert message.startswith("points_currency_eid: is missing (and so is points_currency_iid)")
    assert "pass points_currency_eid='<eid>' or points_currency_iid=<iid>" in message
    # The fix names the task's own connection, as a template a DAG author can paste.
    assert f'points_currency_eid="{CONNECTION_DEFAULT_TEMPLATE % conn_id}"' in message


@pytest.mark.parametrize("operation", sorted(OPERATORS))
def test_no_currency_is_an_import_error_of_the_dag_file(operation: str, tmp_path: Path) -> None:
    # A DAG file whose redeem or accrue names no currency (tests/dags/static_arguments.py).
    no_currency = {
        "dag_id": f"no_currency_{operation}",
        "operator": operation,
        "arguments": {"loyalty_program_id": 1, "profile_id": "p-1", "amount": "5.00"},
    }
    dag_file = copy_dag_file("static_arguments", tmp_path, no_currency)

    (error,) = import_errors(dag_file).values()

    assert "AltcraftValidationError: points_currency_eid: is missing" in error
    assert CONNECTION_DEFAULT_TEMPLATE % "altcraft_default" in error


POINTS_OPERATORS = (
    AltcraftRedeemPointsOperator,
    AltcraftAccruePointsOperator,
    AltcraftBatchPointsOperator,  # and its redeem/accrue subclasses
)


def test_every_example_points_task_names_its_currency() -> None:
    """Parse time cannot see a mapped task's arguments (nor a batch's rows): check the
    examples' redeem/accrue tasks, single, mapped and batch, name a currency themselves."""
    if AIRFLOW_V_3:
        from airflow.dag_processing.dagbag import DagBag

        options: dict[str, Any] = {}
    else:
        from airflow.models.dagbag import DagBag

        options = {"include_examples": False}
    bag = DagBag(dag_folder=str(REPO / "dags_examples"), **options)
    assert bag.import_errors == {}

    checked = set()
    for dag in bag.dags.values():
        for task in dag.tasks:
            cls = getattr(task, "operator_class", type(task))
            if not (isinstance(cls, type) and issubclass(cls, POINTS_OPERATORS)):
                continue
            arguments = getattr(task, "partial_kwargs", None)  # a mapped task's shared ones
            if arguments is None:
                arguments = vars(task)
            currency = [arguments.get(f"points_currency_{kind}") for kind in ("eid", "iid")]
            assert any(value not in (None, "") for value in currency), (dag.dag_id, task.task_id)
            checked.add((dag.dag_id, task.task_id))
    assert checked >= {  # every points task of every example was checked above
        ("altcraft_two_phase_redemption", "redeem"),
        ("altcraft_scheduled_redemption", "redeem"),
        ("altcraft_batch_redemption", "redeem_chunk"),
        ("altcraft_backfill_adjustments", "send_adjustments"),
    }


# ---------------------------------------------------------------- (b) renders empty

EMPTY_CURRENCY_TASKS = [
    ("redeem_eid_param", -1),
    ("accrue_iid_param", -1),
    ("redeem_connection_default", -1),
    ("mapped_no_currency", 0),
    ("mapped_no_currency", 1),
]


def test_currency_rendering_empty_fails_without_retry_or_request(
    altcraft: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALTCRAFT_DEFAULT",
        connection_json(altcraft.url, default_points_currency_eid=""),
    )
    # Currencies are templates rendering empty; retries are allowed.
    result = run(load_test_dag("guide_facts", "guide_empty_currency"))
    failures = read_failures("guide_empty_currency")

    assert result.state == "failed"
    for task in EMPTY_CURRENCY_TASKS:
        assert result.state_of(*task) == "failed", task
        assert result.try_numbers[task] == 1, task  # retries=2 were not used
        failure = failures[task]
        assert failure["type"] == "AirflowFailException"
        assert failure["message"].startswith(
            "Invalid argument: points_currency_eid: is missing (and so is points_currency_iid)"
        )
        assert CONNECTION_DEFAULT_TEMPLATE % "altcraft_default" in failure["message"]
    # Nothing reached the sandbox: not the points, not even an eid lookup.
    assert altcraft.requests() == []
    assert api_transactions(altcraft) == []


# ---------------------------------------------------------------- (c) the connection default


def test_the_connection_default_currency_template_in_a_dag_run(
    altcraft: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # miles, not the program's default currency (stars): the transaction can only land in
    # miles if the template rendered the connection's value and the request carried it.
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALTCRAFT_DEFAULT",
        connection_json(altcraft.url, default_points_currency_eid="miles"),
    )
    miles_before = altcraft.balance(1, "p-1", "miles")["total_balance"]
    dag = load_test_dag("guide_facts", "guide_connection_currency")

    first = run(dag)

    assert first.state == "success"
    (transaction,) = api_transactions(altcraft)
    assert (transaction["points_currency_eid"], transaction["amount"]) == ("miles", "2.50")
    assert first.xcom("accrue") == transaction["transaction_id"]
    assert altcraft.balance(1, "p-1", "miles")["total_balance"] == miles_before + Decimal("2.50")
    assert stars(altcraft, "p-1")["total_balance"] == ANN_STARS

    # The retry's eid lookup searches that same currency, finds it, and sends nothing.
    again = rerun(dag)

    assert again.state == "success"
    assert again.try_numbers[("accrue", -1)] == 2
    assert again.xcom("accrue") == transaction["transaction_id"]
    assert again.xcom("accrue", "already_existed") is True
    assert len(api_transactions(altcraft)) == 1
    assert api_methods(altcraft) == ["loyalty/accrue_points", LOOKUP]
    assert altcraft.balance(1, "p-1", "miles")["total_balance"] == miles_before + Decimal("2.50")


# ---------------------------------------------------------------- (d) two-phase accrual


def test_committing_a_temporary_accrual_returns_the_new_transaction(
    altcraft: SandboxHandle,
) -> None:
    result = run(load_test_dag("guide_facts", "guide_two_phase_accrual"))

    assert result.state == "success"
    temporary_id = result.xcom("accrue")
    committed_id = result.xcom("commit")
    assert committed_id != temporary_id
    assert result.xcom("commit", "temporary_transaction_id") == temporary_id
    # The ledger: the temporary transaction (no longer counting) and the full one the commit
    # created, under the same eid; the points are there once.
    by_id = {t["transaction_id"]: t for t in api_transactions(altcraft, profile_id="p-2")}
    assert set(by_id) == {temporary_id, committed_id}
    temporary, committed = by_id[temporary_id], by_id[committed_id]
    assert temporary["is_temp"] is True
    assert committed["is_temp"] is False
    assert committed["transaction_eid"] == temporary["transaction_eid"]
    assert committed["transaction_eid"] == result.xcom("accrue", "transaction_eid")
    assert committed["transaction_type"] == "accrual"
    assert Decimal(committed["amount"]) == Decimal("30.00")
    account = stars(altcraft, "p-2")
    assert account["total_balance"] == BOB_STARS + Decimal("30.00")
    assert account["active_balance"] == BOB_STARS + Decimal("30.00")
    assert account["held_balance"] == 0
    assert Decimal(result.xcom("commit", "balance")) == BOB_STARS + Decimal("30.00")


# ---------------------------------------------------------------- (e) eid found, no state


def test_a_retry_finding_its_eid_without_state_takes_it_as_applied(
    altcraft: SandboxHandle,
) -> None:
    assert altcraft.config()["unpublished_fields"] is False  # no status in the lookups
    dag = load_test_dag("guide_facts", "guide_retry_no_state")  # one redeem, retries allowed
    first = run(dag)
    assert first.state == "success"
    assert first.xcom("redeem", "already_existed") is False
    (transaction,) = api_transactions(altcraft)

    again = rerun(dag)

    assert again.state == "success"
    assert again.try_numbers[("redeem", -1)] == 2
    assert again.xcom("redeem") == transaction["transaction_id"]
    assert again.xcom("redeem", "already_existed") is True
    assert again.xcom("redeem", "state_known") is False
    # Not sent again: one redemption, the balance moved once.
    assert api_methods(altcraft) == [REDEEM, LOOKUP]
    assert api_transactions(altcraft) == [transaction]
    assert stars(altcraft, "p-1")["total_balance"] == ANN_STARS - Decimal("15.00")


def test_a_retry_finding_its_eid_cancelled_fails_without_retry(altcraft: SandboxHandle) -> None:
    dag = load_test_dag("guide_facts", "guide_retry_cancelled")  # the redeem, then its cancel
    first = run(dag)
    assert first.state == "success"
    (transaction,) = api_transactions(altcraft)
    assert transaction["status"] == "cancelled"
    altcraft.configure(unpublished_fields=True)  # the lookups now report the state

    again = rerun(dag)

    assert again.state_of("redeem") == "failed"
    assert again.try_numbers[("redeem", -1)] == 2  # this try only: retries=2 not used
    assert again.state_of("cancel") == "upstream_failed"
    failure = read_failures("guide_retry_cancelled")[("redeem", -1)]
    # The error itself reaches the failure callback: it is an AirflowFailException.
    assert failure["type"] == "AltcraftEidSettledError"
    settled = AltcraftEidSettledError(
        transaction["transaction_eid"], transaction["transaction_id"], "cancelled"
    )
    assert failure["message"] == str(settled)
    # Looked up once, never sent again.
    assert api_methods(altcraft).count(REDEEM) == 1
    assert api_methods(altcraft)[-1] == LOOKUP
    assert api_transactions(altcraft) == [transaction]
    assert stars(altcraft, "p-1")["total_balance"] == ANN_STARS
