"""The in-memory loyalty ledger: programs, profiles, members, points transactions, export tasks.

Design notes
------------
* One ``threading.RLock`` guards everything: the asyncio server calls in from one thread, but
  timers, the in-process test mode and state-file snapshots may come from others.
* ``Decimal`` everywhere; amounts leave the ledger only as strings (``format_amount``).
* Indexes keep every API operation O(1)/O(log n)/O(page) with 100k+ transactions:
  transactions by id and by eid, per-account transaction lists in insertion order (plus a
  position index for ``from_id`` paging), running per-account totals, and a heap of
  temporary-transaction deadlines for automatic rollback.
* Balance semantics (see the README's sandbox section):
  ``total = sum of signed amounts of transactions in status active|committed``;
  ``active = total - (accruals counted in total that are not yet active or already expired)
  - (temporary redemptions still held)``. Temporary accruals count only once committed.
"""

from __future__ import annotations

import csv
import heapq
import io
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from airflow_provider_altcraft.sandbox.seed import (
    Currency,
    MemberSeed,
    Profile,
    Program,
    TierSeed,
    parse_seed,
)
from airflow_provider_altcraft.sandbox.values import (
    ApiError,
    format_amount,
    format_time,
    parse_rfc3339,
    utcnow,
)

__all__ = ["EXPORT_CSV_COLUMNS", "PUBLISHED_FIELDS", "Ledger", "Match", "Transaction"]

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

# Error texts, in one place so that the README's sandbox section and the tests can quote them.
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


def _fail(err: tuple[int, str], data: object = None) -> ApiError:
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


@dataclass(slots=True)
class ExportTask:
    task_id: str
    program_id: int
    currency_eid: str
    created: float  # wall-clock epoch seconds
    delay: float
    mode: str  # "ok" | "fail" | "stuck", frozen when the task is created
    total: int
    files: list[str]  # CSV texts, each with the header; several with export_files > 1

    def status(self, now: float, pending: str = "processing") -> dict[str, Any]:
        elapsed = now - self.created
        if self.mode == "stuck":
            return {"status": pending, "progress": 0, "result": None}
        if elapsed < self.delay:
            progress = int(min(99.0, 100.0 * elapsed / self.delay)) if self.delay > 0 else 0
            return {"status": pending, "progress": progress, "result": None}
        if self.mode == "fail":
            return {
                "status": "failed",
                "progress": 100,
                "result": None,
                "error_text": "Export failed (sandbox export_mode=fail)",
            }
        urls = [f"/api/download/{self.task_id}/{name}" for name in self.file_names()]
        return {
            "status": "completed",
            "progress": 100,
            "result": {"urls": urls, "total": self.total, "errors": [], "type": "export"},
        }

    def file_names(self) -> list[str]:
        if len(self.files) == 1:
            return ["transactions.csv"]
        return [f"transactions-{i + 1}.csv" for i in range(len(self.files))]

    def state(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "program_id": self.program_id,
            "points_currency_eid": self.currency_eid,
            "created": self.created,
            "delay": self.delay,
            "mode": self.mode,
            "total": self.total,
            "files": self.files,
        }


class Ledger:
    """Thread-safe in-memory state of one sandbox. All public methods take the lock."""

    def __init__(self, seed: dict[str, Any] | None = None) -> None:
        self._lock = threading.RLock()
        # Bumped on every mutation; the state-file writer compares it to decide whether to save.
        self.version = 0
        self.load_seed(seed)

    # ------------------------------------------------------------------ loading / state
    def load_seed(self, raw: dict[str, Any] | None) -> None:
        """Replace the whole state by the seed's (empty state when ``raw`` is None)."""
        parsed = parse_seed(raw if raw is not None else {})
        with self._lock:
            self._reset_indexes(parsed.programs, parsed.profiles)
            for member in parsed.members:
                self._add_seed_member(member)
            self.version += 1

    def _reset_indexes(self, programs: dict[int, Program], profiles: dict[str, Profile]) -> None:
        self.programs = programs
        self.profiles = profiles
        self._by_email = {p.email.lower(): p for p in profiles.values() if p.email}
        self._by_phone: dict[str, Profile] = {}
        for profile in profiles.values():  # first profile in seed order wins, as for fields
            if profile.phone:
                self._by_phone.setdefault(profile.phone, profile)
        self._by_field: dict[tuple[str, str], Profile] = {}
        for profile in profiles.values():
            for name, value in profile.fields.items():
                self._by_field.setdefault((name, value), profile)
        self.members: dict[tuple[int, str], Member] = {}
        self._txs: dict[str, Transaction] = {}  # insertion ordered == creation order
        self._by_eid: dict[str, list[Transaction]] = {}
        self._accounts: dict[tuple[int, str, int], Account] = {}
        self._deadlines: list[tuple[float, int, str]] = []
        self._tasks: dict[str, ExportTask] = {}
        self._seq = 0

    def _add_seed_member(self, seed: MemberSeed) -> None:
        registered = seed.registration_date or utcnow().replace(microsecond=0)
        self.members[(seed.program_id, seed.profile_id)] = Member(
            seed.program_id, seed.profile_id, registered, dict(seed.tiers)
        )
        program = self.programs[seed.program_id]
        for iid, amount in seed.balances.items():
            if amount <= 0:
                continue
            currency = next(c for c in program.currencies if c.iid == iid)
            account = self._account(seed.program_id, seed.profile_id, iid)
            before = account.active(utcnow())
            tx = self._new_tx(
                program_id=seed.program_id,
                profile_id=seed.profile_id,
                currency=currency,
                kind="accrual",
                amount=amount,
                before=before,
                after=before + amount,
                created_at=registered,
                status="active",
                is_temp=False,
                eid=None,
            )
            tx.description = "opening balance"
            tx.source_type = "seed"
            self._insert(tx, account)
            account.total += amount

    def to_state(self) -> dict[str, Any]:
        """A JSON-able snapshot of the complete state (for the state file)."""
        with self._lock:
            return {
                "programs": [p.raw for p in self.programs.values()],
                "profiles": [p.raw for p in self.profiles.values()],
                "members": [
                    {
                        "program_id": m.program_id,
                        "profile_id": m.profile_id,
                        "registration_date": format_time(m.registration_date),
                        "tiers": {
                            str(k): {
                                "tier_eid": t.tier_eid,
                                "reached_at": format_time(t.reached_at),
                            }
                            for k, t in m.tiers.items()
                        },
                    }
                    for m in self.members.values()
                ],
                "transactions": [tx.full() for tx in self._txs.values()],
                "tasks": [t.state() for t in self._tasks.values()],
            }

    def load_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`to_state`."""
        catalog = parse_seed(
            {"programs": state.get("programs", []), "profiles": state.get("profiles", [])}
        )
        with self._lock:
            self._reset_indexes(catalog.programs, catalog.profiles)
            for m in state.get("members", []):
                tiers = {
                    int(k): TierSeed(
                        v["tier_eid"],
                        parse_rfc3339(v["reached_at"], "reached_at") if v["reached_at"] else None,
                    )
                    for k, v in m.get("tiers", {}).items()
                }
                self.members[(m["program_id"], m["profile_id"])] = Member(
                    m["program_id"],
                    m["profile_id"],
                    parse_rfc3339(m["registration_date"], "registration_date"),
                    tiers,
                )
            for raw in state.get("transactions", []):
                self._restore_tx(raw)
            for t in state.get("tasks", []):
                task = ExportTask(
                    t["task_id"], t["program_id"], t["points_currency_eid"], t["created"],
                    t["delay"], t["mode"], t["total"], t.get("files") or [t["csv"]],
                )  # fmt: skip
                self._tasks[task.task_id] = task
            self.version += 1

    def _restore_tx(self, raw: dict[str, Any]) -> None:
        def when(key: str) -> datetime | None:
            value = raw.get(key)
            return None if value is None else parse_rfc3339(value, key)

        program = self.programs[raw["program_id"]]
        currency = next(c for c in program.currencies if c.iid == raw["points_currency_iid"])
        created = when("created_at")
        assert created is not None
        tx = self._new_tx(
            program_id=raw["program_id"],
            profile_id=raw["profile_id"],
            currency=currency,
            kind=raw["transaction_type"],
            amount=Decimal(raw["amount"]),
            before=Decimal(raw["balance_before"]),
            after=Decimal(raw["balance_after"]),
            created_at=created,
            status=raw["status"],
            is_temp=raw["is_temp"],
            eid=raw["transaction_eid"],
        )
        tx.transaction_id = raw["transaction_id"]
        tx.promo_iid, tx.promo_eid = raw.get("promo_iid"), raw.get("promo_eid")
        tx.description, tx.source_type = raw.get("description"), raw.get("source_type", "api")
        tx.source_iid, tx.external_data = raw.get("source_iid"), raw.get("external_data")
        tx.activation_date, tx.expiration_date = when("activation_date"), when("expiration_date")
        tx.temp_expires_at, tx.settled_at = raw.get("temp_expires_at_epoch"), when("settled_at")
        tx.replaced_by, tx.replaces = raw.get("replaced_by"), raw.get("replaces")
        account = self._account(tx.program_id, tx.profile_id, tx.currency_iid)
        self._insert(tx, account)
        sign = 1 if tx.transaction_type == "accrual" else -1
        if tx.status in PERMANENT:
            account.total += sign * tx.amount
        elif tx.status == "temporary":
            if tx.transaction_type == "redeem":
                account.held += tx.amount
            if tx.temp_expires_at is not None:
                heapq.heappush(self._deadlines, (tx.temp_expires_at, tx.seq, tx.transaction_id))

    # ------------------------------------------------------------------ internals
    def _new_tx(
        self,
        *,
        program_id: int,
        profile_id: str,
        currency: Currency,
        kind: str,
        amount: Decimal,
        before: Decimal,
        after: Decimal,
        created_at: datetime,
        status: str,
        is_temp: bool,
        eid: str | None,
    ) -> Transaction:
        self._seq += 1
        return Transaction(
            seq=self._seq,
            transaction_id=str(uuid.uuid4()),
            transaction_eid=eid,
            program_id=program_id,
            profile_id=profile_id,
            currency_iid=currency.iid,
            currency_eid=currency.eid,
            transaction_type=kind,
            amount=amount,
            balance_before=before,
            balance_after=after,
            created_at=created_at,
            status=status,
            is_temp=is_temp,
        )

    def _insert(self, tx: Transaction, account: Account) -> None:
        self._txs[tx.transaction_id] = tx
        if tx.transaction_eid is not None:
            self._by_eid.setdefault(tx.transaction_eid, []).append(tx)
        account.position[tx.transaction_id] = len(account.txs)
        account.txs.append(tx)
        if tx.transaction_type == "accrual" and (tx.activation_date or tx.expiration_date):
            account.dated.append(tx)

    def _account(self, program_id: int, profile_id: str, iid: int) -> Account:
        key = (program_id, profile_id, iid)
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = Account()
        return account

    def _program(self, program_id: int) -> Program:
        program = self.programs.get(program_id)
        if program is None:
            raise _fail(E_PROGRAM)
        return program

    @staticmethod
    def _currency(
        program: Program, iid: int | None, eid: str | None, *, required: bool
    ) -> Currency:
        if iid is None and eid is None:
            if required:
                raise ApiError(400, "points_currency_iid or points_currency_eid is required")
            if len(program.currencies) == 1:
                return program.currencies[0]
            for currency in program.currencies:
                if currency.default:
                    return currency
            raise ApiError(
                400,
                "points_currency_iid or points_currency_eid is required "
                "(the program has several currencies and no default)",
            )
        for currency in program.currencies:
            if (iid is None or currency.iid == iid) and (eid is None or currency.eid == eid):
                return currency
        raise _fail(E_CURRENCY)

    def _profile(self, match: Match) -> Profile:
        profile: Profile | None
        if match.mode == "email":
            profile = self._by_email.get(match.value.lower())
            if profile is not None and match.exact_email and profile.email != match.value:
                profile = None
        elif match.mode == "phone":
            profile = self._by_phone.get(match.value)
        elif match.mode == "profile_id":
            profile = self.profiles.get(match.value)
        else:
            profile = self._by_field.get((match.field_name or "", match.value))
        if profile is None:
            raise _fail(E_PROFILE)
        return profile

    def _member(self, program_id: int, match: Match) -> tuple[Program, Member]:
        program = self._program(program_id)
        profile = self._profile(match)
        member = self.members.get((program_id, profile.profile_id))
        if member is None:
            raise _fail(E_MEMBER)
        return program, member

    def _expire_due(self) -> int:
        """Roll back temporary transactions whose timeout passed. Cheap when nothing is due."""
        deadlines = self._deadlines
        if not deadlines or deadlines[0][0] > time.time():
            return 0
        now_wall = time.time()
        expired = 0
        while deadlines and deadlines[0][0] <= now_wall:
            _, _, tx_id = heapq.heappop(deadlines)
            tx = self._txs.get(tx_id)
            if tx is not None and tx.status == "temporary":
                self._release_temp(tx, "expired")
                expired += 1
        if expired:
            self.version += 1
        return expired

    def _release_temp(self, tx: Transaction, status: str) -> None:
        """Undo a temporary hold (rollback, expiry or cancel of a temporary transaction)."""
        account = self._accounts[(tx.program_id, tx.profile_id, tx.currency_iid)]
        if tx.transaction_type == "redeem":
            account.held -= tx.amount
        tx.status = status
        tx.settled_at = utcnow().replace(microsecond=0)

    def _find_tx(self, tx_id: str | None, tx_eid: str | None) -> Transaction:
        by_id = self._txs.get(tx_id) if tx_id is not None else None
        if tx_id is not None and by_id is None:
            raise _fail(E_TX)
        if tx_eid is not None:
            same_eid = self._by_eid.get(tx_eid)
            if not same_eid:
                raise _fail(E_TX)
            if by_id is not None:
                if by_id.transaction_eid != tx_eid:
                    raise ApiError(
                        400, "transaction_id and transaction_eid refer to different transactions"
                    )
                return by_id
            # Several transactions may share an eid (duplicate_eid=accept): use the newest.
            return same_eid[-1]
        assert by_id is not None
        return by_id

    # ------------------------------------------------------------------ API operations
    def expire_due(self) -> int:
        with self._lock:
            return self._expire_due()

    def post(
        self,
        *,
        kind: str,
        program_id: int,
        match: Match,
        currency_iid: int | None,
        currency_eid: str | None,
        amount: Decimal,
        is_temp: bool,
        temp_timeout_sec: int,
        created_at: datetime | None,
        transaction_eid: str | None,
        external_data: dict[str, Any] | None,
        promotion_id: str | None,
        activation_date: datetime | None = None,
        expiration_date: datetime | None = None,
        duplicate_eid: str = "accept",
    ) -> dict[str, Any]:
        """Accrue (``kind="accrual"``) or redeem (``kind="redeem"``) points."""
        with self._lock:
            self._expire_due()
            program, member = self._member_checked(program_id, match, currency_iid, currency_eid)
            currency = self._currency(program, currency_iid, currency_eid, required=False)
            if transaction_eid is not None and duplicate_eid == "refuse":
                same_eid = self._by_eid.get(transaction_eid)
                if same_eid:
                    raise _fail(E_DUPLICATE, {"transaction_id": same_eid[0].transaction_id})
            # The account is created only once the transaction is accepted (no empty accounts
            # left behind by refused redemptions).
            existing = self._accounts.get((program_id, member.profile_id, currency.iid))
            now = utcnow()
            before = existing.active(now) if existing is not None else ZERO
            after = before
            if kind == "redeem":
                if amount > before:
                    raise _fail(E_INSUFFICIENT)
                after = before - amount
            elif not is_temp:
                active_now = (activation_date is None or activation_date <= now) and (
                    expiration_date is None or expiration_date > now
                )
                after = before + amount if active_now else before
            tx = self._new_tx(
                program_id=program_id,
                profile_id=member.profile_id,
                currency=currency,
                kind=kind,
                amount=amount,
                before=before,
                after=after,
                created_at=(created_at or now).replace(microsecond=0),
                status="temporary" if is_temp else "active",
                is_temp=is_temp,
                eid=transaction_eid,
            )
            tx.external_data = external_data
            tx.activation_date, tx.expiration_date = activation_date, expiration_date
            if promotion_id is not None:
                promo = next(
                    (
                        p
                        for p in program.promotions
                        if promotion_id in (p.get("external_id"), str(p["id"]))
                    ),
                    None,
                )
                tx.promo_iid = int(promo["id"]) if promo else None
                tx.promo_eid = promo.get("external_id") if promo else promotion_id
            account = self._account(program_id, member.profile_id, currency.iid)
            self._insert(tx, account)
            if is_temp:
                if kind == "redeem":
                    account.held += amount
                tx.temp_expires_at = time.time() + temp_timeout_sec
                heapq.heappush(self._deadlines, (tx.temp_expires_at, tx.seq, tx.transaction_id))
            else:
                account.total += amount if kind == "accrual" else -amount
            self.version += 1
            return {
                "transaction_id": tx.transaction_id,
                "balance_before": format_amount(before),
                "balance_after": format_amount(after),
            }

    def _member_checked(
        self, program_id: int, match: Match, iid: int | None, eid: str | None
    ) -> tuple[Program, Member]:
        # Order of 404s: program, currency, profile, member (documented).
        program = self._program(program_id)
        self._currency(program, iid, eid, required=False)
        return self._member(program_id, match)

    def settle(
        self, action: str, tx_id: str | None, tx_eid: str | None, creates: str = "accrual"
    ) -> dict[str, Any]:
        """Commit, roll back or cancel a transaction; returns ``{transaction_id, balance}``.

        ``creates`` (the commit_creates_transaction option): which commits of a temporary
        transaction add a new full transaction holding the points (its id is returned).
        """
        with self._lock:
            self._expire_due()
            tx = self._find_tx(tx_id, tx_eid)
            if action != "cancel" and tx.replaces is not None:
                # The eid now selects the new full transaction: committing (or rolling back)
                # it again is refused as its temporary one would be.
                raise _fail(E_COMMITTED)
            if tx.replaced_by is not None:
                if action != "cancel":
                    raise _fail(E_COMMITTED)
                tx = self._txs[tx.replaced_by]  # cancelling it cancels what holds its points
            status = tx.status
            if status == "cancelled":
                raise _fail(E_CANCELLED)
            if status == "rolled_back":
                raise _fail(E_ROLLED_BACK)
            if status == "expired":
                raise _fail(E_EXPIRED)
            if action != "cancel" and status == "committed":
                raise _fail(E_COMMITTED)
            if action != "cancel" and status == "active":
                raise _fail(E_NOT_TEMP)
            account = self._accounts[(tx.program_id, tx.profile_id, tx.currency_iid)]
            sign = 1 if tx.transaction_type == "accrual" else -1
            if status == "temporary":
                if action == "commit":
                    before = account.active(utcnow())
                    if tx.transaction_type == "redeem":
                        account.held -= tx.amount
                    account.total += sign * tx.amount
                    tx.status = "committed"
                    tx.settled_at = utcnow().replace(microsecond=0)
                    if creates == "always" or creates == tx.transaction_type:
                        tx = self._replace_committed(tx, account, before)
                else:
                    self._release_temp(tx, "rolled_back" if action == "rollback" else "cancelled")
            else:  # cancel of a permanent (active or committed) transaction reverses it
                account.total -= sign * tx.amount
                tx.status = "cancelled"
                tx.settled_at = utcnow().replace(microsecond=0)
            self.version += 1
            return {
                "transaction_id": tx.transaction_id,
                "balance": format_amount(account.active(utcnow())),
            }

    def _replace_committed(
        self, temp: Transaction, account: Account, before: Decimal
    ) -> Transaction:
        """The new full transaction a commit creates: same eid, amount and dates, created now;
        the temporary one stays listed but no longer counts."""
        now = utcnow().replace(microsecond=0)
        program = self.programs[temp.program_id]
        currency = next(c for c in program.currencies if c.iid == temp.currency_iid)
        full = self._new_tx(
            program_id=temp.program_id,
            profile_id=temp.profile_id,
            currency=currency,
            kind=temp.transaction_type,
            amount=temp.amount,
            before=before,
            after=account.active(now),
            created_at=now,
            status="active",
            is_temp=False,
            eid=temp.transaction_eid,
        )
        full.promo_iid, full.promo_eid = temp.promo_iid, temp.promo_eid
        full.activation_date, full.expiration_date = temp.activation_date, temp.expiration_date
        full.external_data = temp.external_data
        temp.status, temp.replaced_by = "replaced", full.transaction_id
        full.replaces = temp.transaction_id
        if temp in account.dated:
            account.dated.remove(temp)
        self._insert(full, account)
        return full

    def balance(
        self, program_id: int, match: Match, iid: int | None, eid: str | None
    ) -> dict[str, str]:
        with self._lock:
            self._expire_due()
            program, member = self._member_checked(program_id, match, iid, eid)
            currency = self._currency(program, iid, eid, required=False)
            account = self._accounts.get((program_id, member.profile_id, currency.iid))
            if account is None:
                return {"total_balance": "0.00", "active_balance": "0.00"}
            return {
                "total_balance": format_amount(account.total),
                "active_balance": format_amount(account.active(utcnow())),
            }

    def account_transactions(
        self,
        program_id: int,
        match: Match,
        iid: int | None,
        eid: str | None,
        from_id: str | None,
        limit: int,
        unpublished: bool = False,
    ) -> list[dict[str, Any]]:
        with self._lock:
            self._expire_due()
            program, member = self._member_checked(program_id, match, iid, eid)
            currency = self._currency(program, iid, eid, required=False)
            account = self._accounts.get((program_id, member.profile_id, currency.iid))
            if account is None:
                if from_id is not None:
                    raise _fail(E_TX)
                return []
            start = 0
            if from_id is not None:
                pos = account.position.get(from_id)
                if pos is None:
                    raise _fail(E_TX)
                start = pos + 1
            return [tx.wire(unpublished) for tx in account.txs[start : start + limit]]

    def expiring_points(
        self,
        program_id: int,
        match: Match,
        iid: int | None,
        eid: str | None,
        date_from: datetime,
        date_to: datetime,
    ) -> dict[str, str]:
        with self._lock:
            self._expire_due()
            program, member = self._member_checked(program_id, match, iid, eid)
            currency = self._currency(program, iid, eid, required=True)
            account = self._accounts.get((program_id, member.profile_id, currency.iid))
            total = ZERO
            for tx in account.dated if account else []:
                exp = tx.expiration_date
                if tx.status in PERMANENT and exp is not None and date_from <= exp <= date_to:
                    total += tx.amount
            return {"expiring_points": format_amount(total)}

    def tiers(
        self, program_id: int, match: Match, tiers_group_id: int, reached_all: bool = True
    ) -> list[dict[str, Any]]:
        """The member's tier in the group: with ``reached_all`` every tier reached so far
        (those up to the current one), else only the current one; ``tier_order`` from 0."""
        with self._lock:
            program, member = self._member(program_id, match)
            group = program.tiers_groups.get(tiers_group_id)
            if group is None:
                raise _fail(E_TIERS_GROUP)
            reached = member.tiers.get(tiers_group_id)
            if reached is None:
                return []
            ordered = sorted(group.tiers, key=lambda t: t.tier_order)
            current = next(i for i, t in enumerate(ordered) if t.tier_eid == reached.tier_eid)
            shown = range(current + 1) if reached_all else range(current, current + 1)
            return [
                {
                    "tiers_group_type": group.type,
                    "tier_eid": ordered[i].tier_eid,
                    "tier_id": ordered[i].tier_id,
                    "tier_order": i,
                    "reached_at": format_time(reached.reached_at or member.registration_date),
                }
                for i in shown
            ]

    def promotions(
        self, program_id: int, from_id: int | None, limit: int, is_active: bool | None
    ) -> tuple[list[dict[str, Any]], int | None, int]:
        """Returns ``(page, next_from_id, total_count)``."""
        with self._lock:
            program = self._program(program_id)
            matching = [
                p for p in program.promotions if is_active is None or p["is_active"] is is_active
            ]
            after = [p for p in matching if from_id is None or p["id"] > from_id]
            page = after[:limit]
            next_from_id = page[-1]["id"] if len(after) > limit else None
            return [dict(p) for p in page], next_from_id, len(matching)

    def register_member(
        self, program_id: int, match: Match, registration_date: datetime | None
    ) -> str:
        """Idempotent: registering an existing member succeeds and changes nothing."""
        with self._lock:
            self._program(program_id)
            profile = self._profile(match)
            key = (program_id, profile.profile_id)
            if key not in self.members:
                when = (registration_date or utcnow()).replace(microsecond=0)
                self.members[key] = Member(program_id, profile.profile_id, when, {})
                self.version += 1
            return profile.profile_id

    def delete_member(self, program_id: int, match: Match) -> str:
        """Removes the membership only; the account's transactions stay in the ledger."""
        with self._lock:
            _, member = self._member(program_id, match)
            del self.members[(program_id, member.profile_id)]
            self.version += 1
            return member.profile_id

    def create_export(
        self,
        program_id: int,
        iid: int | None,
        eid: str | None,
        date_from: datetime,
        date_to: datetime,
        from_id: str | None,
        delay: float,
        mode: str,
        *,
        unpublished: bool = False,
        files: int = 1,
        amounts: Callable[[Decimal], str] = format_amount,
    ) -> str:
        with self._lock:
            self._expire_due()
            program = self._program(program_id)
            currency = self._currency(program, iid, eid, required=True)
            after_seq = 0
            if from_id is not None:
                anchor = self._txs.get(from_id)
                if anchor is None:
                    raise _fail(E_TX)
                after_seq = anchor.seq
            columns = EXPORT_CSV_COLUMNS if unpublished else PUBLISHED_FIELDS
            rows = []
            for tx in self._txs.values():  # dict order == creation order
                if (
                    tx.program_id != program_id
                    or tx.currency_iid != currency.iid
                    or tx.seq <= after_seq
                    or not date_from <= tx.created_at <= date_to
                ):
                    continue
                wire = tx.wire(unpublished=True)
                wire["profile_id"] = tx.profile_id
                wire["points_currency_eid"] = tx.currency_eid
                for name in ("amount", "balance_before", "balance_after"):
                    wire[name] = amounts(getattr(tx, name))
                rows.append(["" if wire[c] is None else wire[c] for c in columns])
            # As many files as asked (no empty ones), the rows spread as evenly as possible.
            count = max(1, min(files, len(rows)))
            base, extra = divmod(len(rows), count)
            texts, start = [], 0
            for index in range(count):
                size = base + (1 if index < extra else 0)
                buffer = io.StringIO()
                writer = csv.writer(buffer)  # RFC 4180 quoting, CRLF line ends
                writer.writerow(columns)
                writer.writerows(rows[start : start + size])
                texts.append(buffer.getvalue())
                start += size
            task = ExportTask(
                str(uuid.uuid4()), program_id, currency.eid, time.time(), delay, mode, len(rows),
                texts,
            )  # fmt: skip
            self._tasks[task.task_id] = task
            self.version += 1
            return task.task_id

    def task_status(self, task_id: str, pending: str = "processing") -> dict[str, Any]:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                raise _fail(E_TASK)
            return task.status(time.time(), pending)

    def download(self, task_id: str, name: str) -> bytes:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                raise _fail(E_TASK)
            if task.status(time.time())["status"] != "completed":
                raise ApiError(409, "Task is not completed")
            names = task.file_names()
            if name not in names:
                raise ApiError(404, "File not found")
            return task.files[names.index(name)].encode("utf-8")

    # ------------------------------------------------------------------ inspection
    def dump(self, pending: str = "processing") -> dict[str, Any]:
        """The whole state for ``GET /_sandbox/ledger``."""
        with self._lock:
            self._expire_due()
            now = utcnow()
            state = self.to_state()
            balances = []
            for (program_id, profile_id, iid), account in self._accounts.items():
                currency = next(c for c in self.programs[program_id].currencies if c.iid == iid)
                balances.append(
                    {
                        "program_id": program_id,
                        "profile_id": profile_id,
                        "points_currency_iid": iid,
                        "points_currency_eid": currency.eid,
                        "is_member": (program_id, profile_id) in self.members,
                        "total_balance": format_amount(account.total),
                        "active_balance": format_amount(account.active(now)),
                        "held_balance": format_amount(account.held),
                    }
                )
            tasks = []
            for task in self._tasks.values():
                info = task.status(time.time(), pending)
                info.update(
                    task_id=task.task_id,
                    program_id=task.program_id,
                    points_currency_eid=task.currency_eid,
                    mode=task.mode,
                )
                tasks.append(info)
            return {
                "programs": state["programs"],
                "profiles": state["profiles"],
                "members": state["members"],
                "balances": balances,
                "transactions": state["transactions"],
                "export_tasks": tasks,
            }

    def transactions(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        """All transactions (full form) whose fields equal the filters, compared as strings."""

        def text(value: object) -> str:
            if isinstance(value, bool):
                return "true" if value else "false"
            return "" if value is None else str(value)

        with self._lock:
            self._expire_due()
            out = []
            for tx in self._txs.values():
                full = tx.full()
                if all(text(full.get(k)) == v for k, v in filters.items()):
                    out.append(full)
            return out

    def account_balance(self, program_id: int, profile_id: str, currency: str) -> dict[str, Any]:
        """Balances of one account for the control API (membership not required).

        ``currency`` is a currency eid or, as digits, an iid.
        """
        with self._lock:
            self._expire_due()
            program = self._program(program_id)
            cur = next((c for c in program.currencies if currency in (c.eid, str(c.iid))), None)
            if cur is None:
                raise _fail(E_CURRENCY)
            account = self._accounts.get((program_id, profile_id, cur.iid)) or Account()
            return {
                "program_id": program_id,
                "profile_id": profile_id,
                "points_currency_iid": cur.iid,
                "points_currency_eid": cur.eid,
                "is_member": (program_id, profile_id) in self.members,
                "total_balance": format_amount(account.total),
                "active_balance": format_amount(account.active(utcnow())),
                "held_balance": format_amount(account.held),
            }
