"""Amount and date parsing and their wire forms: pure functions, no server."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.validation import (
    AMOUNT_MAX,
    format_amount,
    format_rfc3339,
    parse_amount,
    parse_date,
    parse_date_range,
    parse_datetime,
)

UTC = timezone.utc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100.50", Decimal("100.50")),
        ("0.01", Decimal("0.01")),
        (7, Decimal(7)),
        (Decimal("1E+3"), Decimal("1000")),
        (Decimal("2.500"), Decimal("2.5")),  # trailing zeros are not extra places
        (str(AMOUNT_MAX), AMOUNT_MAX),
    ],
)
def test_amounts_that_parse(value: object, expected: Decimal) -> None:
    assert parse_amount(value) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "is missing"),
        ("", "is empty"),
        (1.5, "float 1.5 is refused"),
        (True, "True is not an amount"),
        (Decimal("NaN"), "is not finite"),
        (Decimal("Infinity"), "is not finite"),
        ("0", "is not greater than zero"),
        (0, "is not greater than zero"),
        ("-5", "is negative"),
        ("0.001", "has more than 2 decimal places"),
        (str(AMOUNT_MAX + 1), "is larger than"),
        ("1e3", "is not a plain decimal number"),
        ("1,000", "is not a plain decimal number"),
        ([5], "type list is not accepted"),
    ],
)
def test_amounts_that_are_refused_say_why(value: object, problem: str) -> None:
    with pytest.raises(AltcraftValidationError) as error:
        parse_amount(value, "points")
    assert error.value.parameter == "points"
    assert problem in error.value.problem


@pytest.mark.parametrize(
    ("amount", "wire"),
    [(Decimal("1E+3"), "1000"), (Decimal("100.50"), "100.50"), (Decimal("5"), "5")],
)
def test_amounts_are_sent_in_plain_notation(amount: Decimal, wire: str) -> None:
    assert format_amount(amount) == wire


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-09-01T12:34:56Z", datetime(2024, 9, 1, 12, 34, 56, tzinfo=UTC)),
        ("2024-09-01t12:34:56z", datetime(2024, 9, 1, 12, 34, 56, tzinfo=UTC)),
        ("2024-09-01 12:34:56+03:00", datetime(2024, 9, 1, 9, 34, 56, tzinfo=UTC)),
        ("2024-09-01T12:34:56.123456789Z", datetime(2024, 9, 1, 12, 34, 56, 123456, tzinfo=UTC)),
        ("2024-02-29T00:00:00-05:30", datetime(2024, 2, 29, 5, 30, tzinfo=UTC)),
    ],
)
def test_rfc3339_text_parses_to_the_same_instant(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text, "created_at")
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2024-09-01T12:34:56", "is not an RFC3339 date-time"),  # no offset
        ("2024-09-01", "is not an RFC3339 date-time"),
        ("2023-02-29T00:00:00Z", "is not a valid date-time"),
        ("2024-09-01T25:00:00Z", "is not a valid date-time"),
        (datetime(2024, 9, 1), "has no timezone"),
        (1725192000, "type int is not accepted"),
    ],
)
def test_date_times_that_are_refused_say_why(value: object, problem: str) -> None:
    with pytest.raises(AltcraftValidationError) as error:
        parse_datetime(value, "created_at")
    assert error.value.parameter == "created_at"
    assert problem in error.value.problem


@pytest.mark.parametrize(
    ("moment", "wire"),
    [
        (datetime(2024, 9, 1, 12, 0, tzinfo=UTC), "2024-09-01T12:00:00Z"),
        (datetime(2024, 9, 1, 3, 0, tzinfo=timezone(timedelta(hours=3))), "2024-09-01T00:00:00Z"),
        (datetime(2024, 9, 1, 0, 0, 0, 5, tzinfo=UTC), "2024-09-01T00:00:00.000005Z"),
    ],
)
def test_date_times_are_sent_as_rfc3339_utc(moment: datetime, wire: str) -> None:
    assert format_rfc3339(moment) == wire
    assert parse_datetime(wire, "x") == moment  # and read back as the same instant


def test_dates_and_periods() -> None:
    assert parse_date("2024-09-01", "date_from") == date(2024, 9, 1)
    assert parse_date(date(2024, 9, 1), "date_from") == date(2024, 9, 1)
    late_in_moscow = datetime(2024, 9, 2, 1, 0, tzinfo=timezone(timedelta(hours=3)))
    assert parse_date(late_in_moscow, "date_from") == date(2024, 9, 1)  # its UTC date
    assert parse_date_range("2024-09-01", "2024-09-01") == (date(2024, 9, 1), date(2024, 9, 1))
    with pytest.raises(AltcraftValidationError, match="is not a valid date"):
        parse_date("2024-02-30", "date_from")
    with pytest.raises(AltcraftValidationError) as error:
        parse_date_range("2024-09-02", "2024-09-01")
    assert error.value.parameter == "date_to"
