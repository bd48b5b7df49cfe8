"""Wire value helpers shared by the ledger, the seed loader and the API layer.

Altcraft sends amounts as decimal *strings* and dates as RFC3339; the sandbox never lets a
float near an amount, and it renders every timestamp the same way (UTC, whole seconds, ``Z``)
so that tests can compare strings.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

__all__ = [
    "ApiError",
    "check_identifier",
    "format_amount",
    "format_plain_amount",
    "format_time",
    "parse_amount",
    "parse_date_bound",
    "parse_rfc3339",
    "utcnow",
]

_TWO_PLACES = Decimal("0.01")
# Compiled once: the hot path parses amounts and dates on every call. Matched with fullmatch:
# "$" would also match before a trailing newline ("5\n"), and [0-9], not \d, which takes
# Arabic-Indic and fullwidth digits.
_AMOUNT_RE = re.compile(r"[0-9]+(\.[0-9]+)?")
#: Longest identifier the sandbox accepts (transaction eids, profile ids, field names ...).
IDENTIFIER_MAX_LENGTH = 255
_IDENTIFIER_REFUSED = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
)
_RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class ApiError(Exception):
    """An application error that becomes an Altcraft envelope ``{"error": code, ...}``."""

    def __init__(self, code: int, text: str, data: object = None) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text
        self.data = data


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_amount(value: object, name: str = "amount", *, allow_zero: bool = False) -> Decimal:
    """Parse a decimal string; the real API documents amounts as strings, so numbers are refused."""
    if not isinstance(value, str) or not _AMOUNT_RE.fullmatch(value):
        raise ApiError(400, f'{name} must be a string holding a positive decimal, e.g. "100.50"')
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the regex already guarantees a decimal
        raise ApiError(400, f"{name} is not a valid decimal") from None
    if amount == 0 and not allow_zero:
        raise ApiError(400, f"{name} must be greater than zero")
    return amount


def check_identifier(value: str, name: str) -> str:
    """Refuse an identifier holding control or invisible format characters, or longer than
    :data:`IDENTIFIER_MAX_LENGTH` (such values forge log lines and hide differences)."""
    if len(value) > IDENTIFIER_MAX_LENGTH:
        raise ApiError(400, f"{name} must be at most {IDENTIFIER_MAX_LENGTH} characters")
    if _IDENTIFIER_REFUSED.search(value):
        raise ApiError(400, f"{name} must not contain control characters")
    return value


def format_amount(value: Decimal) -> str:
    """At least two decimals ("500.00"), more only when the inputs carried more ("1.005")."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        value = value.quantize(_TWO_PLACES)
    text = format(value, "f")
    return "0.00" if text in ("-0.00", "-0") else text


def format_plain_amount(value: Decimal) -> str:
    """As few decimals as the value needs ("100.1", "475"), as the guide's examples write."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def parse_rfc3339(value: object, name: str) -> datetime:
    """Parse RFC3339 (``Z`` or a numeric offset; fractional seconds allowed) into aware UTC."""
    if not isinstance(value, str):
        raise ApiError(400, f'{name} must be an RFC3339 string, e.g. "2024-09-01T12:34:56Z"')
    match = _RFC3339_RE.match(value)
    if match is None:
        raise ApiError(400, f'{name} must be an RFC3339 string, e.g. "2024-09-01T12:34:56Z"')
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    zone = match.group(8)
    if zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        parsed = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        raise ApiError(400, f"{name} is not a valid date-time") from None
    return parsed.astimezone(timezone.utc)


def parse_date_bound(value: object, name: str, *, end: bool, date_only: bool = False) -> datetime:
    """A period bound: an RFC3339 date-time (the guide), or with ``date_only`` also
    ``YYYY-MM-DD`` (the whole day, inclusive)."""
    if not date_only:
        if not isinstance(value, str) or not _RFC3339_RE.match(value):
            raise ApiError(400, f'{name} must be an RFC3339 date-time, e.g. "2024-09-01T00:00:00Z"')
        return parse_rfc3339(value, name)
    if isinstance(value, str):
        match = _DATE_RE.match(value)
        if match is not None:
            try:
                day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                raise ApiError(400, f"{name} is not a valid date") from None
            moment = time.max if end else time.min
            return datetime.combine(day, moment, tzinfo=timezone.utc)
    if not isinstance(value, str) or not _RFC3339_RE.match(value):
        raise ApiError(400, f"{name} must be a date (YYYY-MM-DD) or an RFC3339 date-time")
    return parse_rfc3339(value, name)


def format_time(value: datetime | None) -> str | None:
    """RFC3339 UTC with whole seconds: ``2024-09-01T12:34:56Z`` (fractions are truncated)."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
