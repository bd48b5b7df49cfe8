"""Reconciling Altcraft's transactions with a warehouse's record of them, with bounded memory.

Three engines compute the same differences (the rules are in :mod:`.common`):

* ``sqlite`` (:class:`SQLiteReconciler`): a scratch SQLite file; no dependency beyond Python;
* ``duckdb`` (:class:`DuckDBReconciler`): DuckDB, columnar and parallel, with a memory limit;
  the ``duckdb`` extra;
* ``pushdown`` (:class:`PostgresPushdownReconciler`): inside a PostgreSQL warehouse.

``auto`` is ``duckdb`` when it is installed, else ``sqlite``. Nothing here imports DuckDB or
a database driver at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_altcraft.exceptions import AltcraftError
from airflow_provider_altcraft.reconcile.base import BaseReconciler, ExportPeriod
from airflow_provider_altcraft.reconcile.common import (
    DEFAULT_STATE_ALIASES,
    DEFAULT_TYPE_ALIASES,
    DIFFERENCE_CLASSES,
    REPORT_COLUMNS,
    PeriodLike,
    TransactionRow,
    amount_key,
    canonical_amount,
    canonical_text,
    rfc3339,
)
from airflow_provider_altcraft.reconcile.sqlite_engine import SQLiteReconciler

__all__ = [
    "DEFAULT_STATE_ALIASES",
    "DEFAULT_TYPE_ALIASES",
    "DIFFERENCE_CLASSES",
    "ENGINES",
    "REPORT_COLUMNS",
    "BaseReconciler",
    "EngineUnavailable",
    "ExportPeriod",
    "PeriodLike",
    "SQLiteReconciler",
    "TransactionRow",
    "amount_key",
    "canonical_amount",
    "canonical_text",
    "open_reconciler",
    "resolve_engine",
    "rfc3339",
]

#: The ``engine`` values the reconcile operator accepts.
ENGINES = ("auto", "sqlite", "duckdb", "pushdown")


class EngineUnavailable(AltcraftError, RuntimeError):
    """The engine asked for cannot run here (a package not installed, a wrong warehouse)."""


def duckdb_installed() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_engine(engine: str) -> str:
    """``auto`` → ``duckdb`` if installed, else ``sqlite``; :class:`EngineUnavailable` for
    ``duckdb`` without the package."""
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "duckdb" if duckdb_installed() else "sqlite"
    if engine == "duckdb" and not duckdb_installed():
        raise EngineUnavailable(
            "engine 'duckdb' needs the duckdb package, which is not installed: install "
            "'airflow-provider-altcraft[duckdb]', or pass engine='sqlite' (or 'auto', which "
            "uses DuckDB only when it is installed)"
        )
    return engine


def open_reconciler(
    engine: str, directory: str | Path, *, connection: Any = None, **options: Any
) -> BaseReconciler:
    """An engine (``auto`` resolved) with its scratch files in ``directory``; ``pushdown``
    runs on ``connection``, a PostgreSQL connection it closes on exit."""
    engine = resolve_engine(engine)
    if engine == "sqlite":
        return SQLiteReconciler(Path(directory) / "reconcile.sqlite", **options)
    if engine == "duckdb":
        from airflow_provider_altcraft.reconcile.duckdb_engine import DuckDBReconciler

        return DuckDBReconciler(Path(directory) / "reconcile.duckdb", **options)
    from airflow_provider_altcraft.reconcile.pushdown import (
        PostgresPushdownReconciler,
        is_postgres,
    )

    if connection is None or not is_postgres(connection):
        raise EngineUnavailable(
            "engine 'pushdown' runs inside a PostgreSQL warehouse; this warehouse connection "
            f"is {type(connection).__module__ if connection is not None else 'missing'}: use "
            "engine 'auto', 'duckdb' or 'sqlite'"
        )
    return PostgresPushdownReconciler(connection, **options)
