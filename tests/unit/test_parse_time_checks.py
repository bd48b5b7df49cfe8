"""Parse-time validation runs once per operator, whatever the depth of its ``__init__`` chain
(each ``__init__`` may ask; only the call that finds every argument set checks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.operators import base
from airflow_provider_altcraft.operators.base import AltcraftBaseOperator
from airflow_provider_altcraft.operators.batch import AltcraftBatchRedeemPointsOperator
from airflow_provider_altcraft.operators.loyalty import (
    AltcraftAccruePointsOperator,
    AltcraftCancelTransactionOperator,
    AltcraftCommitTransactionOperator,
    AltcraftGetBalanceOperator,
    AltcraftRedeemPointsOperator,
    AltcraftRegisterMemberOperator,
    AltcraftRemoveMemberOperator,
    AltcraftRollbackTransactionOperator,
)

MEMBER = {"loyalty_program_id": 1, "profile_email": "ann@example.com"}
POINTS = {**MEMBER, "amount": "5.00", "points_currency_eid": "stars"}
WHEN = "2024-09-01T00:00:00Z"
OPERATORS: list[tuple[type[AltcraftBaseOperator], dict[str, Any]]] = [
    (AltcraftRedeemPointsOperator, POINTS),
    (AltcraftAccruePointsOperator, {**POINTS, "activation_date": WHEN}),
    (AltcraftCommitTransactionOperator, {"transaction_id": "t-1"}),
    (AltcraftRollbackTransactionOperator, {"transaction_id": "t-1"}),
    (AltcraftCancelTransactionOperator, {"transaction_eid": "e-1"}),
    (AltcraftGetBalanceOperator, {**MEMBER, "points_currency_eid": "stars"}),
    (AltcraftRegisterMemberOperator, {**MEMBER, "registration_date": WHEN}),
    (AltcraftRemoveMemberOperator, MEMBER),
    (AltcraftBatchRedeemPointsOperator, {"rows": [{"email": "a@b.co", "amount": "1"}]}),
]
IDS = [operator.__name__ for operator, _ in OPERATORS]


@pytest.mark.parametrize(("operator", "arguments"), OPERATORS, ids=IDS)
def test_static_arguments_are_validated_once(
    operator: type[AltcraftBaseOperator], arguments: dict[str, Any]
) -> None:
    original = operator.build
    with mock.patch.object(operator, "build", autospec=True, side_effect=original) as build:
        task = operator(task_id="t", **arguments)
    assert build.call_count == 1
    assert build.call_args.args[0] is task


def _counting(calls: Counter[str]) -> dict[str, Callable[[object, str], object]]:
    def counted(name: str, check: Callable[[object, str], object]) -> Any:
        def run(value: object, parameter: str) -> object:
            calls[parameter] += 1
            return check(value, parameter)

        return run

    return {name: counted(name, check) for name, check in base.SINGLE_ARGUMENT_CHECKS.items()}


@pytest.mark.parametrize(
    ("operator", "arguments"), OPERATORS[:2] + OPERATORS[5:7], ids=IDS[:2] + IDS[5:7]
)
def test_with_a_templated_argument_each_static_one_is_checked_once(
    operator: type[AltcraftBaseOperator], arguments: dict[str, Any]
) -> None:
    calls: Counter[str] = Counter()
    templated = {**arguments, "profile_email": "{{ params.email }}"}
    with (
        mock.patch.dict(base.SINGLE_ARGUMENT_CHECKS, _counting(calls)),
        mock.patch.object(operator, "build", autospec=True) as build,
    ):
        operator(task_id="t", **templated)
    assert build.call_count == 0  # the whole set waits for the rendered values
    given = {name for name in arguments if name in base.SINGLE_ARGUMENT_CHECKS}
    assert given and given <= set(calls)
    assert set(calls.values()) == {1}, calls


def test_a_templated_points_task_still_needs_a_currency_at_parse_time() -> None:
    arguments = {**POINTS, "amount": "{{ params.amount }}"}
    del arguments["points_currency_eid"]
    with pytest.raises(AltcraftValidationError) as error:
        AltcraftAccruePointsOperator(task_id="t", **arguments)
    assert error.value.parameter == "points_currency_eid"


def test_a_static_mistake_of_the_last_init_is_found() -> None:
    with pytest.raises(AltcraftValidationError) as error:
        AltcraftAccruePointsOperator(task_id="t", **POINTS, expiration_date="tomorrow")
    assert error.value.parameter == "expiration_date"
