"""Checks and conversions for request parameters, shared by the hook and the operators.

Every function raises :class:`AltcraftValidationError` naming the parameter, the problem and
what is accepted, so a DAG author can fix the call without reading this code. Only the
standard library is used: operators call these at DAG parse time.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.exceptions import AltcraftValidationError

#: Points amounts may carry at most this many decimal places ("100.50"). Altcraft documents
#: fractional points without a precision; two places matches every published example.
AMOUNT_MAX_DECIMAL_PLACES = 2
#: Larger amounts are almost certainly a unit mistake (cents for points, a row id for an amount).
AMOUNT_MAX = Decimal("1000000000")
#: Longest identifier accepted (transaction eids and ids, profile ids, promotion ids, currency
#: eids, custom field names and values). Altcraft publishes no bound; 255 is the usual column
#: size, and anything longer is almost certainly a whole row or a document pasted by mistake.
ID_MAX_LENGTH = 255
#: Longest e-mail address (RFC 5321: a path holds at most 256 octets, 254 of them the address).
EMAIL_MAX_LENGTH = 254
#: Largest whole number accepted for an id or a count (a signed 64-bit integer).
INT_MAX = 2**63 - 1
#: Altcraft's documented request limit: 10 MiB, the whole JSON body.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Unicode categories refused in any text sent: control characters (NUL, ESC, CR, LF, DEL,
#: C1), format characters (zero-width, bidi overrides, BOM), lone surrogates (not encodable
#: as UTF-8), line and paragraph separators. They forge log lines and hide differences.
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

_AMOUNT_ACCEPTED = (
    f"pass a positive decimal string with at most {AMOUNT_MAX_DECIMAL_PLACES} decimal places "
    "(e.g. '100.50'), an int or a decimal.Decimal"
)
# ASCII digits only: Python's \d, int() and Decimal() also take Arabic-Indic and fullwidth digits.
_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")
_DATETIME_ACCEPTED = (
    "pass a timezone-aware datetime or an RFC3339 string such as '2024-09-01T12:34:56Z'"
)


def _describe_char(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def find_control_character(text: str) -> str | None:
    """The first character of ``text`` in :data:`CONTROL_CATEGORIES`, described
    ("U+000A"), or None."""
    if text.isascii():
        for char in text:
            if char < " " or char == "\x7f":
                return _describe_char(char)
        return None
    for char in text:
        if unicodedata.category(char) in CONTROL_CATEGORIES:
            return _describe_char(char)
    return None


def check_text(value: str, parameter: str, accepted: str | None = None) -> None:
    """Refuse control characters and leading or trailing whitespace in ``value``.

    The message says which character and where, never the value itself: a value built to
    forge a log line must not reach the log through its own error.
    """
    for position, char in enumerate(value, start=1):
        if (
            (char < " " or char == "\x7f")
            if char.isascii()
            else (unicodedata.category(char) in CONTROL_CATEGORIES)
        ):
            raise AltcraftValidationError(
                parameter,
                f"contains a control character ({_describe_char(char)}) at position {position}",
                accepted or "remove control characters such as line breaks, tabs and escapes",
            )
    if value != value.strip():
        raise AltcraftValidationError(
            parameter,
            "has leading or trailing whitespace",
            accepted or "remove the spaces around the value",
        )


def _safe_repr(value: str, limit: int = 40) -> str:
    """A short repr for an error message (control characters come out escaped)."""
    text = repr(value[:limit])
    return text + ("..." if len(value) > limit else "")


def parse_amount(value: object, parameter: str = "amount") -> Decimal:
    """Return ``value`` as an exact positive Decimal; floats are refused, never rounded.

    Strings are plain decimals in ASCII digits with no sign, exponent, grouping or padding:
    ``"100.50"`` is accepted, ``" 5"``, ``"5\\n"``, ``"+5"``, ``"1e3"`` and non-ASCII digits
    (Arabic-Indic three, fullwidth five) are not.
    """
    if value is None:
        raise AltcraftValidationError(parameter, "is missing", _AMOUNT_ACCEPTED)
    if isinstance(value, bool):
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
        if not value.strip():
            raise AltcraftValidationError(parameter, "is empty", _AMOUNT_ACCEPTED)
        if value != value.strip():
            raise AltcraftValidationError(
                parameter, "has leading or trailing whitespace", _AMOUNT_ACCEPTED
            )
        if value.startswith("-") and _PLAIN_DECIMAL.fullmatch(value[1:]):
            raise AltcraftValidationError(parameter, f"{value!r} is negative", _AMOUNT_ACCEPTED)
        if not _PLAIN_DECIMAL.fullmatch(value):
            problem = "is not a plain decimal number"
            if not value.isascii():
                problem += " in ASCII digits"
            raise AltcraftValidationError(
                parameter, f"{_safe_repr(value)} {problem}", _AMOUNT_ACCEPTED
            )
        amount = Decimal(value)
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
    """Accept an int or a string of ASCII digits (what Jinja renders) that is greater than
    zero and at most :data:`INT_MAX`; no sign, padding or "_" grouping."""
    accepted = "pass a positive whole number, e.g. 123"
    if value is None:
        raise AltcraftValidationError(parameter, "is missing", accepted)
    if isinstance(value, bool):
        raise AltcraftValidationError(parameter, f"{value!r} is not a whole number", accepted)
    if isinstance(value, str):
        # Not isdigit() nor int(): they take "²", non-ASCII digits, " 5" and "1_000".
        if not _DIGITS.fullmatch(value):
            raise AltcraftValidationError(
                parameter, f"{_safe_repr(value)} is not a whole number", accepted
            )
        if len(value) > 19:
            raise AltcraftValidationError(parameter, f"is larger than {INT_MAX}", accepted)
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        raise AltcraftValidationError(
            parameter, f"type {type(value).__name__} is not accepted", accepted
        )
    if number <= 0:
        raise AltcraftValidationError(parameter, f"{number} is not greater than zero", accepted)
    if number > INT_MAX:
        raise AltcraftValidationError(parameter, f"is larger than {INT_MAX}", accepted)
    return number


def parse_limit(value: object, parameter: str = "limit", *, maximum: int = 100) -> int:
    """A page size: an int from 1 to ``maximum`` (a string such as ``"5"`` is refused: hook
    arguments are Python values, not rendered text)."""
    accepted = f"pass an int from 1 to {maximum}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise AltcraftValidationError(
            parameter, f"type {type(value).__name__} is not an int", accepted
        )
    if not 1 <= value <= maximum:
        raise AltcraftValidationError(parameter, f"{value} is out of range", accepted)
    return value


def parse_optional_positive_int(value: object, parameter: str) -> int | None:
    return None if value is None else parse_positive_int(value, parameter)


def parse_bool(value: object, parameter: str) -> bool:
    """Accept a bool, or the text Jinja renders from one: "true"/"false" in any case
    ("True", "FALSE"), without padding. Everything else is refused, "yes", "1", 1 and 2
    included: a flag that guards money is never guessed."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    shown = _safe_repr(value) if isinstance(value, str) else repr(value)
    if not isinstance(value, (str, int, float, type(None))):
        shown = f"type {type(value).__name__}"
    raise AltcraftValidationError(
        parameter, f"{shown} is not a boolean", "pass True or False (or the text 'true'/'false')"
    )


def parse_optional_str(
    value: object, parameter: str, *, max_length: int = ID_MAX_LENGTH
) -> str | None:
    """A non-empty string of at most ``max_length`` characters without control characters or
    padding (see :func:`check_text`), or None."""
    if value is None:
        return None
    accepted = f"pass a non-empty string of at most {max_length} characters"
    if not isinstance(value, str):
        raise AltcraftValidationError(
            parameter, f"type {type(value).__name__} is not a string", accepted
        )
    if not value.strip() and find_control_character(value) is None:
        raise AltcraftValidationError(parameter, "is empty", accepted)
    if len(value) > max_length:
        raise AltcraftValidationError(parameter, f"is {len(value)} characters long", accepted)
    check_text(value, parameter)
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
        text = value
        if not _RFC3339.fullmatch(text):
            raise AltcraftValidationError(
                parameter, f"{_safe_repr(value)} is not an RFC3339 date-time", _DATETIME_ACCEPTED
            )
        # fromisoformat() of Python 3.10 knows neither "Z" nor more than 6 fractional digits.
        text = re.sub(r"[Zz]$", "+00:00", text)
        text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)
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
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value):
        try:
            return date.fromisoformat(value)
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
        except (ValueError, RecursionError):
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
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise AltcraftValidationError(
            parameter, f"is not JSON-serialisable ({_first_line(exc)})", accepted
        ) from None
    except RecursionError:
        raise AltcraftValidationError(parameter, "is nested too deeply", accepted) from None
    except UnicodeEncodeError:
        raise AltcraftValidationError(
            parameter, "holds text that is not valid Unicode (a lone surrogate)", accepted
        ) from None
    if size > MAX_BODY_BYTES:
        raise AltcraftValidationError(
            parameter,
            f"is {size} bytes as JSON",
            f"Altcraft accepts requests of at most 10 MiB ({MAX_BODY_BYTES} bytes) in all",
        )
    return dict(value)


def _first_line(exc: BaseException, limit: int = 200) -> str:
    lines = str(exc).splitlines() or [type(exc).__name__]
    return lines[0][:limit]


def check_body_size(data: bytes) -> None:
    """Refuse a request body over Altcraft's documented 10 MiB limit, before sending it."""
    if len(data) > MAX_BODY_BYTES:
        raise AltcraftValidationError(
            "request",
            f"the JSON body is {len(data)} bytes",
            f"Altcraft accepts at most 10 MiB ({MAX_BODY_BYTES} bytes); send less external_data",
        )


def check_output_path(path: object, parameter: str, *, partial_suffix: str | None = None) -> Path:
    """A file path that can be written: checked before anything is sent or downloaded.

    Refused, in one sentence naming ``parameter``: a path that is not a non-empty string (or
    ``os.PathLike``), holds control characters, is a directory, a symbolic link (dangling or
    not: writing through it would land elsewhere) or another non-regular file, an existing file
    that cannot be written, a path under a file, or one whose nearest existing directory is not
    writable (missing directories are created by the writers). ``partial_suffix`` names the
    temporary file written beside it (``".part"``), which must not be in the way either.
    """
    accepted = "pass the path of a file to write, in a writable directory"
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise AltcraftValidationError(
            parameter, f"type {type(path).__name__} is not a path", accepted
        )
    if not path.strip():
        raise AltcraftValidationError(parameter, "is empty", accepted)
    check_text(path, parameter, accepted)
    target = Path(path)
    candidates = [(target, "")]
    if partial_suffix:
        candidates.append((target.with_name(target.name + partial_suffix), "its temporary file "))
    for candidate, what in candidates:
        if candidate.is_symlink():
            raise AltcraftValidationError(
                parameter, f"{what}{str(candidate)!r} is a symbolic link", accepted
            )
        if candidate.is_dir():
            raise AltcraftValidationError(
                parameter, f"{what}{str(candidate)!r} is a directory", accepted
            )
        if candidate.exists():
            if not candidate.is_file():
                raise AltcraftValidationError(
                    parameter, f"{what}{str(candidate)!r} is not a regular file", accepted
                )
            if not os.access(candidate, os.W_OK):
                raise AltcraftValidationError(
                    parameter, f"{what}{str(candidate)!r} is not writable", accepted
                )
    directory = target.absolute().parent
    while not directory.exists() and directory != directory.parent:
        if directory.is_symlink():  # a dangling link where a directory should be
            break
        directory = directory.parent
    if not directory.is_dir():
        raise AltcraftValidationError(parameter, f"{str(directory)!r} is not a directory", accepted)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise AltcraftValidationError(
            parameter, f"directory {str(directory)!r} is not writable", accepted
        )
    return target


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
