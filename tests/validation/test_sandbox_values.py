"""The sandbox refuses what the provider refuses: amounts in ASCII digits, with no padding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from airflow_provider_altcraft.sandbox.values import ApiError, parse_amount


@pytest.mark.parametrize(
    "text",
    ["5\n", "5\r\n", " 5", "5 ", "\u0663", "\uff15", "1\u0663.50", "5\x00", "+5", "-5", "1e3",
     "1_000", "", ".5", "5."],
)  # fmt: skip
def test_sandbox_refuses_amounts_the_api_documents_no_way_to_send(text: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_amount(text)
    assert caught.value.code == 400
    assert caught.value.text.startswith("amount ")


def test_sandbox_still_takes_plain_amounts() -> None:
    assert parse_amount("100.50") == Decimal("100.50")
    assert parse_amount("0", allow_zero=True) == 0


@pytest.mark.parametrize("text", ["eid\n", "a\x00b", "a\x1b[2Jb", "a\u202eb", "x" * 256])
def test_sandbox_identifier_check(text: str) -> None:
    from airflow_provider_altcraft.sandbox.values import check_identifier

    with pytest.raises(ApiError) as caught:
        check_identifier(text, "transaction_eid")
    assert caught.value.text.startswith("transaction_eid must ")
    assert check_identifier("order-1", "transaction_eid") == "order-1"
