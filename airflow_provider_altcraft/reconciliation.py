"""Compare two streams of points transactions with bounded memory.

Kept for existing imports: the engines live in :mod:`airflow_provider_altcraft.reconcile`.
:class:`Reconciler` is the dependency-free SQLite engine (a scratch file at ``path``).
"""

from __future__ import annotations

from airflow_provider_altcraft.reconcile import (
    DEFAULT_STATE_ALIASES,
    DEFAULT_TYPE_ALIASES,
    DIFFERENCE_CLASSES,
    REPORT_COLUMNS,
    TransactionRow,
    amount_key,
    canonical_amount,
)
from airflow_provider_altcraft.reconcile.sqlite_engine import SQLiteReconciler as Reconciler

__all__ = [
    "DEFAULT_STATE_ALIASES",
    "DEFAULT_TYPE_ALIASES",
    "DIFFERENCE_CLASSES",
    "REPORT_COLUMNS",
    "Reconciler",
    "TransactionRow",
    "amount_key",
    "canonical_amount",
]
