"""The reconcile tests' ledger/warehouse scenario, for the lineage runs."""

from tests.reconcile.conftest import scenario, sqlite_warehouse

__all__ = ["scenario", "sqlite_warehouse"]
