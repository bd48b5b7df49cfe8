"""Exactly once under lost answers and Airflow retries: the sandbox applies a redemption and
drops the connection before answering, and the task must end with one transaction."""

from __future__ import annotations

import pytest

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import connection_json
from tests.dagrun import load_test_dag
from tests.operators.conftest import api_methods, api_transactions, run

#: Attempts per safe request with the connection below: the first one and one retry.
ATTEMPTS_PER_LOOKUP = 2
LOOKUP = "loyalty/account/transactions"

OPERATIONS = {
    "redeem": ("AltcraftRedeemPointsOperator", "loyalty/redeeme_points"),
    "accrue": ("AltcraftAccruePointsOperator", "loyalty/accrue_points"),
}


@pytest.fixture
def one_safe_retry(altcraft: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    """A connection that retries a safe request once, so the fault counts below are exact."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_ALTCRAFT_DEFAULT", connection_json(altcraft.url, max_retries=1)
    )
    return altcraft


def points_dag(operation: str) -> object:
    """One money-moving task that Airflow retries at once (tests/dags/retry_safety.py)."""
    return load_test_dag("retry_safety", f"retry_safety_{operation}")


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_applied_but_unanswered_is_found_by_the_next_airflow_try(
    one_safe_retry: SandboxHandle, operation: str
) -> None:
    sandbox = one_safe_retry
    _, method = OPERATIONS[operation]
    sandbox.set_faults(
        [
            # The request is applied, the answer lost ...
            {"kind": "drop_after", "methods": [method], "max_count": 1},
            # ... and every attempt of the first try's lookup fails, so that try fails.
            {"kind": "drop_before", "methods": [LOOKUP], "max_count": ATTEMPTS_PER_LOOKUP},
        ]
    )

    result = run(points_dag(operation))

    assert result.state == "success"
    assert result.try_numbers[("points", -1)] == 2
    (transaction,) = api_transactions(sandbox)
    assert transaction["amount"] == "40.00"
    assert transaction["profile_id"] == "p-1"
    assert result.xcom("points") == transaction["transaction_id"]
    assert result.xcom("points", "transaction_eid") == transaction["transaction_eid"]
    assert result.xcom("points", "already_existed") is True
    # Sent once, in try 1; try 2 only looked it up.
    methods = api_methods(sandbox)
    assert methods.count(method) == 1
    assert methods == [method, *[LOOKUP] * ATTEMPTS_PER_LOOKUP, LOOKUP]


def test_applied_but_unanswered_is_found_within_the_same_try(altcraft: SandboxHandle) -> None:
    method = "loyalty/redeeme_points"
    altcraft.set_faults([{"kind": "drop_after", "methods": [method], "max_count": 1}])

    result = run(points_dag("redeem"))

    assert result.state == "success"
    assert result.try_numbers[("points", -1)] == 1
    (transaction,) = api_transactions(altcraft)
    assert result.xcom("points") == transaction["transaction_id"]
    # Found by the lookup, but made by this very try (its answer was lost): not "already".
    assert result.xcom("points", "already_existed") is False
    assert api_methods(altcraft) == [method, LOOKUP]


def test_lost_before_arrival_is_sent_by_the_next_try(altcraft: SandboxHandle) -> None:
    # The connection drops before the request is applied. Right after, "not found" proves
    # nothing (Altcraft might still be applying it), so the try fails without sending again;
    # the next try looks the eid up first, finds nothing, and sends it: applied once.
    method = "loyalty/redeeme_points"
    altcraft.set_faults([{"kind": "drop_before", "methods": [method], "max_count": 1}])

    result = run(points_dag("redeem"))

    assert result.state == "success"
    assert result.try_numbers[("points", -1)] == 2
    (transaction,) = api_transactions(altcraft)
    assert result.xcom("points") == transaction["transaction_id"]
    assert result.xcom("points", "already_existed") is False
    assert api_methods(altcraft) == [method, LOOKUP, LOOKUP, method]
