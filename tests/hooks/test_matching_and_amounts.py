"""Every matching mode reaches the right profile; amounts travel exactly (Decimal, strings)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import Matching
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.hooks.conftest import ANN, PROGRAM

MATCHINGS = [
    pytest.param(Matching.by_email("ann@example.com"), "p-1", id="email"),
    pytest.param(Matching.by_email("BOB@Example.com"), "p-2", id="email-any-case"),
    pytest.param(Matching.by_phone("+15550000002"), "p-2", id="phone"),
    pytest.param(Matching.by_profile_id("p-1"), "p-1", id="profile_id"),
    pytest.param(Matching.by_custom_field("user_id", "1002"), "p-2", id="custom-str"),
    # The seed stores p-1's user_id as the string "1001": an int value must still match.
    pytest.param(Matching.by_custom_field("user_id", 1001), "p-1", id="custom-int"),
]


@pytest.mark.parametrize(("matching", "profile_id"), MATCHINGS)
def test_matching_reaches_the_profile_on_redeem_and_balance(
    hook: AltcraftHook, sandbox: SandboxHandle, matching: Matching, profile_id: str
) -> None:
    before = sandbox.balance(PROGRAM, profile_id, "stars")["total_balance"]

    result = hook.redeem_points(
        loyalty_program_id=PROGRAM, amount="1.25", matching=matching, transaction_eid="m-1"
    )
    balance = hook.get_balance(loyalty_program_id=PROGRAM, matching=matching)

    [row] = sandbox.transactions(transaction_eid="m-1")
    assert (row["profile_id"], row["transaction_id"]) == (profile_id, result.transaction_id)
    assert result.balance_after == before - Decimal("1.25")
    assert balance.total_balance == before - Decimal("1.25")
    assert balance.total_balance == sandbox.balance(PROGRAM, profile_id, "stars")["total_balance"]


AMOUNTS = [
    pytest.param("0.01", "0.01", id="str-cent"),
    pytest.param("100.50", "100.50", id="str-trailing-zero"),
    pytest.param(123, "123.00", id="int"),
    pytest.param(Decimal("99999.99"), "99999.99", id="decimal-large"),
    pytest.param(Decimal("7.5"), "7.50", id="decimal-one-place"),
]


@pytest.mark.parametrize(("amount", "ledger_text"), AMOUNTS)
def test_amounts_arrive_exactly_and_come_back_as_decimal(
    hook: AltcraftHook, sandbox: SandboxHandle, amount: object, ledger_text: str
) -> None:
    exact = Decimal(ledger_text)

    accrued = hook.accrue_points(
        loyalty_program_id=PROGRAM,
        amount=amount,  # type: ignore[arg-type]
        matching=ANN,
        transaction_eid="in",
    )
    redeemed = hook.redeem_points(
        loyalty_program_id=PROGRAM,
        amount=amount,  # type: ignore[arg-type]
        matching=ANN,
        transaction_eid="out",
    )

    # The sandbox refuses a JSON number, and keeps the precision of the string it was sent.
    assert sandbox.transactions(transaction_eid="in")[0]["amount"] == ledger_text
    assert sandbox.transactions(transaction_eid="out")[0]["amount"] == ledger_text
    assert (accrued.balance_before, accrued.balance_after) == (
        Decimal("500.00"),
        Decimal("500.00") + exact,
    )
    assert (redeemed.balance_before, redeemed.balance_after) == (
        Decimal("500.00") + exact,
        Decimal("500.00"),
    )
    for value in (
        accrued.balance_before,
        accrued.balance_after,
        redeemed.balance_before,
        redeemed.balance_after,
    ):
        assert type(value) is Decimal
    rows = hook.get_account_transactions(loyalty_program_id=PROGRAM, matching=ANN)
    assert [t.amount for t in rows[-2:]] == [exact, exact]


def test_many_cent_operations_add_up_exactly(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    for _ in range(10):
        hook.redeem_points(loyalty_program_id=PROGRAM, amount="0.10", matching=ANN)

    balance = hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)

    assert balance.total_balance == Decimal("499.00")  # 0.1 * 10 is not 1.0 in binary floats
    assert sandbox.balance(PROGRAM, "p-1", "stars")["total_balance"] == Decimal("499.00")


@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        pytest.param(0.1, "float", id="float"),
        pytest.param("0.001", "more than 2 decimal places", id="three-places"),
        pytest.param("-5", "negative", id="negative"),
        pytest.param("1e3", "not a plain decimal", id="exponent"),
    ],
)
def test_bad_amount_is_refused_before_any_request(
    hook: AltcraftHook, sandbox: SandboxHandle, amount: object, problem: str
) -> None:
    with pytest.raises(AltcraftValidationError) as caught:
        hook.redeem_points(loyalty_program_id=PROGRAM, amount=amount, matching=ANN)  # type: ignore[arg-type]

    assert caught.value.parameter == "amount"
    assert problem in caught.value.problem
    assert "100.50" in str(caught.value)  # says what is accepted
    assert sandbox.requests() == []
