"""The ledger's records and the constants every part of it shares.

Records: :class:`Match` (a validated matching block), :class:`Transaction`, :class:`Account`
(one points account with its running totals), :class:`Member`. Constants: the published and
unpublished transaction fields, the export's CSV columns, and the error texts (in one place so
that docs/sandbox-wire.md and the tests can quote them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from airflow_provider_altcraft.sandbox.seed import TierSeed
from airflow_provider_altcraft.sandbox.values import ApiError, format_amount, format_time

__all__ = [
    "EXPORT_CSV_COLUMNS",
    "PERMANENT",
    "PUBLISHED_FIELDS",
    "UNPUBLISHED_EXPORT_FIELDS",
    "UNPUBLISHED_LIST_FIELDS",
    "ZERO",
    "Account",
    "Match",
    "Member",
    "Transaction",
    "fail",
]

ZERO = Decimal(0)
# Statuses whose amount counts in the total balance.
PERMANENT = frozenset({"active", "committed"})
#: The item fields the guide publishes for loyalty/account/transactions; the export's CSV
#: columns are unpublished, so the sandbox's strict default exports these.
PUBLISHED_FIELDS = (
    "transaction_id",
    "transaction_eid",
    "created_at",
    "transaction_type",
    "amount",
    "balance_before",
    "balance_after",
    "promo_iid",
    "promo_eid",
    "description",
    "activation_date",
    "expiration_date",
    "source_type",
    "source_iid",
)
#: Added with the ``unpublished_fields`` option (lists get status and is_temp).
UNPUBLISHED_LIST_FIELDS = ("status", "is_temp")
UNPUBLISHED_EXPORT_FIELDS = ("status", "is_temp", "profile_id", "points_currency_eid")
EXPORT_CSV_COLUMNS = PUBLISHED_FIELDS + UNPUBLISHED_EXPORT_FIELDS

# Error texts, in one place so that docs/sandbox-wire.md and the tests can quote them.
E_PROGRAM = (404, "Loyalty program not found")
E_CURRENCY = (404, "Points currency not found")
E_PROFILE = (404, "Profile not found")
E_MEMBER = (404, "Member not found")
E_TX = (404, "Transaction not found")
E_TASK = (404, "Task not found")
E_TIERS_GROUP = (404, "Tiers group not found")
E_INSUFFICIENT = (409, "Insufficient points")
E_DUPLICATE = (409, "Duplicate transaction_eid")
E_COMMITTED = (409, "Transaction is already committed")
E_ROLLED_BACK = (409, "Transaction is already rolled back")
E_EXPIRED = (409, "Transaction has expired")
E_CANCELLED = (409, "Transaction is already cancelled")
E_NOT_TEMP = (409, "Transaction is not temporary")


def fail(err: tuple[int, str], data: object = None) -> ApiError:
    """The :class:`ApiError` of one of the ``E_*`` constants."""
    return ApiError(err[0], err[1], data)


@dataclass(frozen=True)
class Match:
    """A validated matching block: mode is email|phone|profile_id|custom."""

    mode: str
    value: str
    field_name: str | None = None
    exact_email: bool = False  # the email_matching option


@dataclass(slots=True)
class Transaction:
    seq: int
    transaction_id: str
    transaction_eid: str | None
    program_id: int
    profile_id: str
    currency_iid: int
    currency_eid: str
    transaction_type: str  # "accrual" | "redeem"
    amount: Decimal
    balance_before: Decimal
    balance_after: Decimal
    created_at: datetime
    status: str
    is_temp: bool
    promo_iid: int | None = None
    promo_eid: str | None = None
    description: str | None = None
    activation_date: datetime | None = None
    expiration_date: datetime | None = None
    source_type: str = "api"
    source_iid: int | None = None
    external_data: dict[str, Any] | None = None
    temp_expires_at: float | None = None  # wall-clock epoch seconds
    settled_at: datetime | None = None
    # A committed temporary transaction whose points moved to a new full one (status
    # "replaced", shown as "committed"): the id of that one; and on the new one, the other way.
    replaced_by: str | None = None
    replaces: str | None = None

    def wire(self, unpublished: bool = False) -> dict[str, Any]:
        """The shape of ``loyalty/account/transactions``: the published fields, plus status
        and is_temp with ``unpublished``."""
        out = self._fields()
        if not unpublished:
            for name in UNPUBLISHED_LIST_FIELDS:
                del out[name]
        return out

    def _fields(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "transaction_eid": self.transaction_eid,
            "created_at": format_time(self.created_at),
            "transaction_type": self.transaction_type,
            "amount": format_amount(self.amount),
            "balance_before": format_amount(self.balance_before),
            "balance_after": format_amount(self.balance_after),
            "promo_iid": self.promo_iid,
            "promo_eid": self.promo_eid,
            "description": self.description,
            "activation_date": format_time(self.activation_date),
            "expiration_date": format_time(self.expiration_date),
            "source_type": self.source_type,
            "source_iid": self.source_iid,
            "status": "committed" if self.status == "replaced" else self.status,
            "is_temp": self.is_temp,
        }

    def full(self) -> dict[str, Any]:
        """Everything, for ``/_sandbox/ledger`` and the state file."""
        out = self._fields()
        out.update(
            status=self.status,
            replaced_by=self.replaced_by,
            replaces=self.replaces,
            program_id=self.program_id,
            profile_id=self.profile_id,
            points_currency_iid=self.currency_iid,
            points_currency_eid=self.currency_eid,
            external_data=self.external_data,
            temp_expires_at=(
                None
                if self.temp_expires_at is None
                else format_time(datetime.fromtimestamp(self.temp_expires_at, timezone.utc))
            ),
            temp_expires_at_epoch=self.temp_expires_at,
            settled_at=format_time(self.settled_at),
        )
        return out

    def is_active_at(self, now: datetime) -> bool:
        if self.activation_date is not None and self.activation_date > now:
            return False
        return self.expiration_date is None or self.expiration_date > now


@dataclass(slots=True)
class Account:
    """One (program, profile, currency) points account."""

    txs: list[Transaction] = field(default_factory=list)
    position: dict[str, int] = field(default_factory=dict)  # transaction_id -> index in txs
    total: Decimal = ZERO
    held: Decimal = ZERO  # temporary redemptions not settled yet
    dated: list[Transaction] = field(default_factory=list)  # accruals with activation/expiry

    def active(self, now: datetime) -> Decimal:
        inactive = ZERO
        for tx in self.dated:
            if tx.status in PERMANENT and not tx.is_active_at(now):
                inactive += tx.amount
        return self.total - self.held - inactive


@dataclass(slots=True)
class Member:
    program_id: int
    profile_id: str
    registration_date: datetime
    tiers: dict[int, TierSeed]

    def state(self) -> dict[str, Any]:
        """The state file's image of the membership (also a durable-journal record)."""
        return {
            "program_id": self.program_id,
            "profile_id": self.profile_id,
            "registration_date": format_time(self.registration_date),
            "tiers": {
                str(k): {"tier_eid": t.tier_eid, "reached_at": format_time(t.reached_at)}
                for k, t in self.tiers.items()
            },
        }
