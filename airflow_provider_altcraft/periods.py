"""Periods of time, as Airflow has them and as Altcraft wants them.

Airflow's data intervals are half-open, ``[start, end)``, pendulum date-times. Altcraft's
period bounds (``date_from``/``date_to`` of an export or of expiring points) are RFC3339
date-times and both inclusive (the guide's example: ``"2023-09-01T00:00:00Z"``). The two meet
here, once:

* An export asks Altcraft for ``[start, end]`` (both bounds as sent, whole seconds in the
  guide's format) and the provider keeps only the rows with ``start <= created_at < end``.
  Asking for ``end - 1 s`` instead would lose what a server storing fractions of a second
  holds in the last second; keeping ``end`` would count a row at exactly ``end`` in two
  consecutive runs. Filtering on our side is exact whatever the server's precision.
* A whole day given as a date (``"2024-09-01"``) is ``[00:00, next day 00:00)`` UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pendulum

from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.validation import format_rfc3339, parse_date, parse_datetime

__all__ = ["Period"]

_BOUND_ACCEPTED = (
    "pass a date ('YYYY-MM-DD', a whole UTC day) or an aware datetime / RFC3339 string"
)


def _utc(moment: datetime) -> pendulum.DateTime:
    return pendulum.instance(moment).in_timezone("UTC")


def _start_of(value: object, parameter: str) -> pendulum.DateTime:
    """A period's first instant: a date is its midnight, a date-time itself."""
    if isinstance(value, str) and len(value.strip()) == len("YYYY-MM-DD"):
        value = parse_date(value, parameter)
    if isinstance(value, date) and not isinstance(value, datetime):
        return pendulum.datetime(value.year, value.month, value.day, tz="UTC")
    try:
        return _utc(parse_datetime(value, parameter))
    except AltcraftValidationError as exc:
        raise AltcraftValidationError(parameter, exc.problem, _BOUND_ACCEPTED) from None


@dataclass(frozen=True)
class Period:
    """A half-open period ``[start, end)`` in UTC."""

    start: pendulum.DateTime
    end: pendulum.DateTime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise AltcraftValidationError(
                "date_to",
                f"{format_rfc3339(self.end)} is not after {format_rfc3339(self.start)}",
                "give a period that ends after it starts",
            )

    @classmethod
    def from_arguments(cls, date_from: object, date_to: object) -> Period:
        """Operator arguments: ``date_from`` is included; ``date_to`` too when it is a date
        (the whole day), and excluded when it is a date-time (like a data interval's end)."""
        start = _start_of(date_from, "date_from")
        end = _start_of(date_to, "date_to")
        if _is_whole_date(date_to):
            end = end.add(days=1)
        return cls(start, end)

    @classmethod
    def from_data_interval(cls, start: datetime, end: datetime) -> Period:
        """A run's data interval. An empty one (manual runs, Airflow 3's default timetables)
        covers the last whole UTC day before its end: a run at 2024-09-02 00:00 covers
        2024-09-01, the day that just ended."""
        start_utc, end_utc = _utc(start), _utc(end)
        if end_utc <= start_utc:
            last_day = (end_utc - timedelta(microseconds=1)).start_of("day")
            return cls(last_day, last_day.add(days=1))
        return cls(start_utc, end_utc)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def to_json(self) -> dict[str, str]:
        """``{"date_from", "date_to"}`` as RFC3339 UTC. Sent to Altcraft as they are (it reads
        both as inclusive, so the caller drops rows at exactly ``end``: see the module
        docstring); in XComs, events and summaries ``date_to`` is exclusive."""
        return {"date_from": format_rfc3339(self.start), "date_to": format_rfc3339(self.end)}

    def last_second_bounds(self) -> dict[str, str]:
        """``date_to`` = the last whole second before ``end``: for an aggregate that cannot be
        filtered afterwards (expiring points), where a bound at ``end`` would count points
        expiring at exactly midnight in two consecutive days."""
        return {
            "date_from": format_rfc3339(self.start),
            "date_to": format_rfc3339(self.end.subtract(seconds=1)),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Period:
        return cls(_start_of(data["date_from"], "date_from"), _start_of(data["date_to"], "date_to"))

    def __str__(self) -> str:
        return f"[{format_rfc3339(self.start)}, {format_rfc3339(self.end)})"


def _is_whole_date(value: object) -> bool:
    if isinstance(value, date) and not isinstance(value, datetime):
        return True
    return isinstance(value, str) and len(value.strip()) == len("YYYY-MM-DD")
