"""The demo warehouse of the backfill tests (the daily reconcile example reads it)."""

from tests.backfill.conftest import demo_warehouse

__all__ = ["demo_warehouse"]
