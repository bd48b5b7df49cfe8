"""The in-memory loyalty ledger: programs, profiles, members, points transactions, export tasks.

:class:`Ledger` is assembled from one module per job, over a shared core:

* :mod:`.records` - the records (:class:`Transaction`, :class:`Account`, ...), field lists and
  error texts;
* :mod:`.core` - the lock, the indexes, the seed, lookups, temporary-hold expiry;
* :mod:`.accounts` - accounting: accruals and redemptions, balances, temporary holds,
  commit / rollback / cancel, members, tiers, promotions;
* :mod:`.exports` - export tasks and their CSV files;
* :mod:`.state` - the state file's snapshot and restore, the durable journal's records;
* :mod:`.inspection` - the control endpoints' views (dump, transaction filter, balances).

Each module imports only the ones listed before it (and the sandbox's seed and value helpers).
"""

from __future__ import annotations

from airflow_provider_altcraft.sandbox.ledger.accounts import Accounts
from airflow_provider_altcraft.sandbox.ledger.exports import Exports, ExportTask
from airflow_provider_altcraft.sandbox.ledger.inspection import Inspection
from airflow_provider_altcraft.sandbox.ledger.records import (
    E_CANCELLED,
    E_COMMITTED,
    E_CURRENCY,
    E_DUPLICATE,
    E_EXPIRED,
    E_INSUFFICIENT,
    E_MEMBER,
    E_NOT_TEMP,
    E_PROFILE,
    E_PROGRAM,
    E_ROLLED_BACK,
    E_TASK,
    E_TIERS_GROUP,
    E_TX,
    EXPORT_CSV_COLUMNS,
    PERMANENT,
    PUBLISHED_FIELDS,
    UNPUBLISHED_EXPORT_FIELDS,
    UNPUBLISHED_LIST_FIELDS,
    ZERO,
    Account,
    Match,
    Member,
    Transaction,
)

__all__ = [
    "EXPORT_CSV_COLUMNS",
    "E_CANCELLED",
    "E_COMMITTED",
    "E_CURRENCY",
    "E_DUPLICATE",
    "E_EXPIRED",
    "E_INSUFFICIENT",
    "E_MEMBER",
    "E_NOT_TEMP",
    "E_PROFILE",
    "E_PROGRAM",
    "E_ROLLED_BACK",
    "E_TASK",
    "E_TIERS_GROUP",
    "E_TX",
    "PERMANENT",
    "PUBLISHED_FIELDS",
    "UNPUBLISHED_EXPORT_FIELDS",
    "UNPUBLISHED_LIST_FIELDS",
    "ZERO",
    "Account",
    "ExportTask",
    "Ledger",
    "Match",
    "Member",
    "Transaction",
]


class Ledger(Accounts, Exports, Inspection):
    """Thread-safe in-memory state of one sandbox. All public methods take the lock.

    ``Ledger(seed)`` starts from the seed (empty when None); see the modules above for its parts.
    """
