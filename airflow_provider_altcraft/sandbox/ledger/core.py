"""The ledger's core: its lock, its indexes, the seed, lookups and temporary-hold expiry.

The other parts of :class:`~.Ledger` (:mod:`.accounts`, :mod:`.exports`, :mod:`.state`,
:mod:`.inspection`) are mixins over :class:`LedgerCore`: they share its lock and indexes.

* One ``threading.RLock`` guards everything: the asyncio server calls in from one thread, but
  timers, the in-process test mode and state-file snapshots may come from others. Every public
  method takes it.
* Indexes keep every API operation O(1)/O(log n)/O(page) with 100k+ transactions:
  transactions by id and by eid, per-account transaction lists in insertion order (plus a
  position index for ``from_id`` paging), running per-account totals, and a heap of
  temporary-transaction deadlines for automatic rollback.
"""

from __future__ import annotations

import heapq
import threading
import time
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from airflow_provider_altcraft.sandbox.ledger.records import (
    E_CURRENCY,
    E_MEMBER,
    E_PROFILE,
    E_PROGRAM,
    E_TX,
    Account,
    Match,
    Member,
    Transaction,
    fail,
)
from airflow_provider_altcraft.sandbox.seed import (
    Currency,
    MemberSeed,
    Profile,
    Program,
    parse_seed,
)
from airflow_provider_altcraft.sandbox.values import ApiError, utcnow

__all__ = ["LedgerCore"]


class LedgerCore:
    """Thread-safe in-memory state of one sandbox. All public methods take the lock."""

    def __init__(self, seed: dict[str, Any] | None = None) -> None:
        self._lock = threading.RLock()
        # Bumped on every mutation; the state-file writer compares it to decide whether to save.
        self.version = 0
        self.load_seed(seed)

    # ------------------------------------------------------------------ loading
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
            raise fail(E_PROGRAM)
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
        raise fail(E_CURRENCY)

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
            raise fail(E_PROFILE)
        return profile

    def _member(self, program_id: int, match: Match) -> tuple[Program, Member]:
        program = self._program(program_id)
        profile = self._profile(match)
        member = self.members.get((program_id, profile.profile_id))
        if member is None:
            raise fail(E_MEMBER)
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
            raise fail(E_TX)
        if tx_eid is not None:
            same_eid = self._by_eid.get(tx_eid)
            if not same_eid:
                raise fail(E_TX)
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

    # ------------------------------------------------------------------ shared by the operations
    def expire_due(self) -> int:
        with self._lock:
            return self._expire_due()

    def _member_checked(
        self, program_id: int, match: Match, iid: int | None, eid: str | None
    ) -> tuple[Program, Member]:
        # Order of 404s: program, currency, profile, member (documented).
        program = self._program(program_id)
        self._currency(program, iid, eid, required=False)
        return self._member(program_id, match)
