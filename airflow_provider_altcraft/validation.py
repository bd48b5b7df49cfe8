"""Checks and conversions for request parameters, shared by the hook and the operators.

Every function raises :class:`AltcraftValidationError` naming the parameter, the problem and
what is accepted, so a DAG author can fix the call without reading this code. Only the
standard library is used: operators call these at DAG parse time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from airflow_provider_altcraft.exceptions import AltcraftValidationError

#: Points amounts may carry at most this many decimal places ("100.50"). Altcraft documents
#: fractional points without a precision; two places matches every published example.
AMOUNT_MAX_DECIMAL_PLACES = 2
#: Larger amounts are almost certainly a unit mistake (cents for points, a row id for an amount).
AMOUNT_MAX = Decimal("1000000000")

_AMOUNT_ACCEPTED = (
    f"pass a positive decimal string with at most {AMOUNT_MAX_DECIMAL_PLACES} decimal places "
    "(e.g. '100.50'), an int or a decimal.Decimal"
)
_PLAIN_DECIMAL = re.compile(r"\d+(\.\d+)?")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIGITS = re.compile(r"[0-9]+")
_DATETIME_ACCEPTED = (
    "pass a timezone-aware datetime or an RFC3339 string such as '2024-09-01T12:34:56Z'"
)


def parse_amount(value: object, parameter: str = "amount") -> Decimal:
    """Return ``value`` as an exact positive Decimal; floats are refused, never rounded."""
    if isinstance(value, bool) or value is None:
        raise AltcraftValidationError(parameter, f"{value!r} is not an amount", _AMOUNT_ACCEPTED)
    if isinstance(value, float):
        raise AltcraftValidationError(
            parameter,
            f"float {value!r} is refused because binary floats cannot hold decimal amounts exactly",
            _AMOUNT_ACCEPTED,
        )
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise AltcraftValidationError(parameter, f"{value} is not finite", _AMOUNT_ACCEPTED)
        amount = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise AltcraftValidationError(parameter, "is empty", _AMOUNT_ACCEPTED)
        if text.startswith("-") and _PLAIN_DECIMAL.fullmatch(text[1:]):
            raise AltcraftValidationError(parameter, f"{value!r} is negative", _AMOUNT_ACCEPTED)
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise AltcraftValidationError(
                parameter, f"{value!r} is not a plain decimal number", _AMOUNT_ACCEPTED
            )
        amount = Decimal(text)
    else:
        raise AltcraftValidationError(
            parameter, f"type {type(value).__name__} is not accepted", _AMOUNT_ACCEPTED
        )
    if amount <= 0:
        raise AltcraftValidationError(
            parameter, f"{value!r} is not greater than zero", _AMOUNT_ACCEPTED
        )
    if amount > AMOUNT_MAX:
        raise AltcraftValidationError(
            parameter, f"{value!r} is larger than {AMOUNT_MAX}", _AMOUNT_ACCEPTED
        )
    quantum = Decimal(1).scaleb(-AMOUNT_MAX_DECIMAL_PLACES)
    with localcontext() as exact:  # the caller's context may have a small precision
        exact.prec = 50
        too_precise = amount != amount.quantize(quantum)
    if too_precise:
        raise AltcraftValidationError(
            parameter,
            f"{value!r} has more than {AMOUNT_MAX_DECIMAL_PLACES} decimal places",
            _AMOUNT_ACCEPTED,
        )
    return amount


def format_amount(amount: Decimal) -> str:
    """Wire and XCom form of an amount: plain notation, never an exponent ("1E+3")."""
    return format(amount, "f")


def format_optional_amount(amount: Decimal | None) -> str | None:
    return None if amount is None else format_amount(amount)


def parse_wire_decimal(value: object, field: str) -> Decimal:
    """Read a decimal that Altcraft sent (a string, or a number parsed as Decimal)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"field {field!r} is not a decimal: {type(value).__name__}")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"field {field!r} is not a decimal: {value!r}") from None


def parse_positive_int(value: object, parameter: str) -> int:
    """Accept an int or a string of digits (what Jinja renders) that is greater than zero."""
    accepted = "pass a positive whole number, e.g. 123"
    if isinstance(value, bool) or value is None:
        raise AltcraftValidationError(parameter, f"{value!r} is not a whole number", accepted)
    if isinstance(value, str):
        text = value.strip()
        if not _DIGITS.fullmatch(text):  # not isdigit(): it accepts "²", which int() refuses
            raise AltcraftValidationError(parameter, f"{value!r} is not a whole number", accepted)
        number = int(text)
    elif isinstance(value, int):
        number = value
    else:
        raise AltcraftValidationError(
            parameter, f"type {type(value).__name__} is not accepted", accepted
        )
    if number <= 0:
        raise AltcraftValidationError(parameter, f"{number} is not greater than zero", accepted)
    return number


def parse_optional_positive_int(value: object, parameter: str) -> int | None:
    return None if value is None else parse_positive_int(value, parameter)


def parse_bool(value: object, parameter: str) -> bool:
    """Accept a bool, or the strings "true"/"false" that Jinja renders from a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise AltcraftValidationError(parameter, f"{value!r} is not a boolean", "pass True or False")


def parse_optional_str(value: object, parameter: str, *, max_length: int = 255) -> str | None:
    """A non-empty string of sane length, or None."""
    if value is None:
        return None
    accepted = f"pass a non-empty string of at most {max_length} characters"
    if not isinstance(value, str):
        raise AltcraftValidationError(
            parameter, f"type {type(value).__name__} is not a string", accepted
        )
    if not value.strip():
        raise AltcraftValidationError(parameter, "is empty", accepted)
    if len(value) > max_length:
        raise AltcraftValidationError(parameter, f"is {len(value)} characters long", accepted)
    return value


def parse_datetime(value: object, parameter: str) -> datetime:
    """An aware datetime (pendulum included) or an RFC3339 string, as an aware datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise AltcraftValidationError(
                parameter, f"{value.isoformat()} has no timezone", _DATETIME_ACCEPTED
            )
        return value
    if isinstance(value, str):
        text = value.strip()
        if not _RFC3339.fullmatch(text):
            raise AltcraftValidationError(
                parameter, f"{value!r} is not an RFC3339 date-time", _DATETIME_ACCEPTED
            )
        # fromisoformat() of Python 3.10 knows neither "Z" nor more than 6 fractional digits.
        text = re.sub(r"[Zz]$", "+00:00", text)
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise AltcraftValidationError(
                parameter, f"{value!r} is not a valid date-time", _DATETIME_ACCEPTED
            ) from None
    raise AltcraftValidationError(
        parameter, f"type {type(value).__name__} is not accepted", _DATETIME_ACCEPTED
    )


def format_rfc3339(moment: datetime) -> str:
    """RFC3339 in UTC with a "Z", as Altcraft's examples write it."""
    utc = moment.astimezone(timezone.utc)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: object, parameter: str) -> date:
    """A date, a datetime (its UTC date) or a 'YYYY-MM-DD' / RFC3339 string."""
    if isinstance(value, datetime):
        return parse_datetime(value, parameter).astimezone(timezone.utc).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
        raise AltcraftValidationError(
            parameter, f"{value!r} is not a valid date", "pass a date or 'YYYY-MM-DD'"
        )
    return parse_datetime(value, parameter).astimezone(timezone.utc).date()


def parse_date_range(date_from: object, date_to: object) -> tuple[date, date]:
    """An inclusive period of dates (``date_from`` <= ``date_to``)."""
    start = parse_date(date_from, "date_from")
    end = parse_date(date_to, "date_to")
    if end < start:
        raise AltcraftValidationError("date_to", "is before date_from", "use an inclusive period")
    return start, end


def parse_json_object(value: object, parameter: str) -> dict[str, Any] | None:
    """A JSON object (a dict with string keys whose values serialise to JSON), or None.

    A string holding a JSON object is accepted too: that is what Jinja renders from a dict
    when the DAG does not render native objects.
    """
    if value is None:
        return None
    accepted = "pass a dict with string keys and JSON-serialisable values"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise AltcraftValidationError(
                parameter, "is a string that is not a JSON object", accepted
            ) from None
    if not isinstance(value, Mapping):
        raise AltcraftValidationError(
            parameter, f"type {type(value).__name__} is not a JSON object", accepted
        )
    if not all(isinstance(key, str) for key in value):
        raise AltcraftValidationError(parameter, "has a key that is not a string", accepted)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AltcraftValidationError(
            parameter, f"is not JSON-serialisable ({exc})", accepted
        ) from None
    return dict(value)


def currency_payload(points_currency_iid: object, points_currency_eid: object) -> dict[str, Any]:
    """The points-currency block: at most one of the internal (int) or external (str) id."""
    if points_currency_iid is not None and points_currency_eid is not None:
        raise AltcraftValidationError(
            "points_currency_iid",
            "is given together with points_currency_eid",
            "name the points currency by one of them only",
        )
    if points_currency_iid is not None:
        return {
            "points_currency_iid": parse_positive_int(points_currency_iid, "points_currency_iid")
        }
    if points_currency_eid is not None:
        return {
            "points_currency_eid": parse_optional_str(points_currency_eid, "points_currency_eid")
        }
    return {}
