"""Outcomes are never misreported: an applied redemption is "applied" or "unknown", never a
plain failure, whatever goes wrong after it was sent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_altcraft.compat import AirflowFailException
from airflow_provider_altcraft.exceptions import (
    AltcraftEidSettledError,
    AltcraftOutcomeUnknownError,
    AltcraftServerError,
    AltcraftTransportError,
)
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import PointsRequest
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.hooks.conftest import ACCOUNT_TRANSACTIONS, ANN, PROGRAM, REDEEM, api_calls


def _redeem(eid: str) -> PointsRequest:
    return PointsRequest.build(
        "redeem", loyalty_program_id=PROGRAM, amount="10", matching=ANN, transaction_eid=eid,
        points_currency_eid="stars",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("lookup_fault", "lookup_error"),
    [("http_500", AltcraftServerError), ("drop_before", AltcraftTransportError)],
)
def test_a_lost_answer_then_a_failed_lookup_is_outcome_unknown_not_the_lookups_error(
    hook: AltcraftHook, sandbox: SandboxHandle, lookup_fault: str, lookup_error: type
) -> None:
    sandbox.set_faults(
        [
            {"kind": "drop_after", "methods": [REDEEM], "max_count": 1},
            {"kind": lookup_fault, "methods": [ACCOUNT_TRANSACTIONS]},
        ]
    )

    with pytest.raises(AltcraftOutcomeUnknownError) as caught:
        hook.send_points_request_once(_redeem("lost-1"))

    assert caught.value.transaction_eid == "lost-1"
    assert "the eid lookup that followed failed too" in str(caught.value)
    assert isinstance(caught.value.__cause__, lookup_error)
    # It was applied: reporting "nothing was sent" would have been a lie.
    assert len(sandbox.transactions(transaction_eid="lost-1")) == 1


@pytest.mark.parametrize(
    "answer",
    [{}, {"transaction_id": None}, {"transaction_id": ""}, {"transaction_id": "t",
     "balance_after": "NaN"}, ["not", "an", "object"]],
    ids=["no_id", "null_id", "empty_id", "nan_balance", "list"],
)  # fmt: skip
def test_a_malformed_success_answer_is_outcome_unknown_then_found(
    hook: AltcraftHook, sandbox: SandboxHandle, answer: Any
) -> None:
    sandbox.set_faults([{"kind": "malformed_after", "methods": [REDEEM], "data": answer}])

    with pytest.raises(AltcraftOutcomeUnknownError, match="malformed"):
        hook.send_points_request(_redeem("odd-0"))
    found = hook.send_points_request_once(_redeem("odd-1"))

    [row] = sandbox.transactions(transaction_eid="odd-1")
    assert found.transaction_id == row["transaction_id"] != "None"
    assert found.already_existed is False  # applied by this very call
    assert len(api_calls(sandbox, REDEEM)) == 2  # never re-sent


def test_a_settled_eid_is_its_own_error(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    sandbox.configure(unpublished_fields=True)
    hook.send_points_request(_redeem("settled"))
    hook.cancel_transaction(transaction_eid="settled")

    with pytest.raises(AltcraftEidSettledError) as caught:
        hook.send_points_request_once(_redeem("settled"), check_existing=True)

    # The hook's error imports no Airflow; the operators raise it as an AirflowFailException
    # (tests/operators/test_guide_facts.py: the task fails without retry).
    assert not isinstance(caught.value, AirflowFailException)
    assert sandbox.balance(PROGRAM, "p-1", "stars")["active_balance"] == Decimal("500.00")
