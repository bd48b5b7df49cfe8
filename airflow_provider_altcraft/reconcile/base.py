"""The interface every reconcile engine implements (see :mod:`.common` for the rules)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any

from airflow_provider_altcraft.export.csv_reader import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    column_positions,
    read_header,
)
from airflow_provider_altcraft.reconcile.common import (
    DEFAULT_STATE_ALIASES,
    DEFAULT_TYPE_ALIASES,
    PeriodLike,
    lower_keys,
)

__all__ = ["NULL_MARKER", "BaseReconciler", "ExportPeriod"]

#: How a CSV of warehouse rows marks NULL (so that an empty text stays an empty text).
NULL_MARKER = "\\N"
#: ``add_export``'s period: a half-open datetime period, two inclusive dates, or None.
ExportPeriod = PeriodLike | tuple[date, date] | None


class BaseReconciler:
    """Loads both sides, matches them, and streams the differences.

    Use as a context manager: ``add_export`` / ``add_altcraft``, ``add_warehouse`` (or
    ``add_warehouse_csv``), then ``match()``, then ``differences()``.

    :param signed_amounts: the warehouse has no type: a negative amount is a redemption, a
        positive one an accrual (compared as absolute values).
    :param compare_state: False when the warehouse records no state.
    """

    #: The engine's name, as the operator's ``engine`` argument spells it.
    engine = ""

    def __init__(
        self,
        *,
        type_aliases: Mapping[str, str] | None = None,
        state_aliases: Mapping[str, str] | None = None,
        signed_amounts: bool = False,
        compare_state: bool = True,
    ) -> None:
        self.type_aliases = {**DEFAULT_TYPE_ALIASES, **lower_keys(type_aliases)}
        self.state_aliases = {**DEFAULT_STATE_ALIASES, **lower_keys(state_aliases)}
        self.signed_amounts = signed_amounts
        self.compare_state = compare_state
        #: False once an export without a status column was loaded.
        self.altcraft_has_state = True
        #: Altcraft rows folded into their committed copy (set by match()).
        self.committed_copies = 0

    @property
    def state_compared(self) -> bool:
        """Whether states are compared: the warehouse has them and so does every export."""
        return self.compare_state and self.altcraft_has_state

    def __enter__(self) -> BaseReconciler:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError

    def _export_positions(self, path: str | os.PathLike[str]) -> tuple[list[str], dict[str, int]]:
        """The export's header and the positions of the columns read (status if present);
        notes an export without status. :class:`ExportFormatError` when one is missing."""
        header = read_header(path)
        positions = column_positions(header, REQUIRED_COLUMNS, path, optional=OPTIONAL_COLUMNS)
        if "status" not in positions:
            self.altcraft_has_state = False
        return header, positions

    def add_export(self, path: str | os.PathLike[str], period: ExportPeriod = None) -> int:
        """Load Altcraft's transactions from an export CSV, those created within ``period``
        (a wider file is narrowed; ``created_at`` texts that are no UTC date-time are kept);
        returns how many."""
        raise NotImplementedError

    def add_altcraft(self, rows: Iterable[Sequence[object]]) -> int:
        """Load Altcraft's transactions (:class:`TransactionRow` order); returns how many."""
        raise NotImplementedError

    def add_warehouse(self, rows: Iterable[Sequence[object]]) -> int:
        """Load the warehouse's transactions (:class:`TransactionRow` order, any values a
        DB-API driver returns); returns how many."""
        raise NotImplementedError

    def add_warehouse_csv(self, path: str | os.PathLike[str]) -> int:
        """Load the warehouse's transactions from a CSV with a header row and the
        :class:`TransactionRow` columns in order, NULL written ``\\N``, as PostgreSQL's
        ``COPY ... TO STDOUT (FORMAT csv, HEADER, NULL '\\N')`` writes it; returns how many."""
        raise NotImplementedError

    def add_warehouse_sqlite(
        self,
        connection: sqlite3.Connection,
        sql: str,
        parameters: Any,
        columns: Sequence[str | None],
    ) -> int:
        """Load the result of ``sql`` on a SQLite warehouse ``connection`` in bulk (no Python
        code per row); ``columns``: the result's columns in :class:`TransactionRow` order
        (None for a field the warehouse lacks). Returns how many."""
        raise NotImplementedError

    def match(self) -> dict[str, int]:
        """Fold committed copies, pair the rows (eid first, then transaction id); returns
        ``altcraft_rows`` (transactions, copies folded), ``warehouse_rows``, ``matched`` and
        ``committed_copies``."""
        raise NotImplementedError

    def differences(self) -> Iterator[tuple[str | None, ...]]:
        """Report rows (see :data:`REPORT_COLUMNS`), class by class; call after match()."""
        raise NotImplementedError
