"""Accounting: points transactions, balances, temporary holds and their settling, members.

Balance semantics (see docs/sandbox-wire.md):
``total = sum of signed amounts of transactions in status active|committed``;
``active = total - (accruals counted in total that are not yet active or already expired)
- (temporary redemptions still held)``. Temporary accruals count only once committed.
``Decimal`` everywhere; amounts leave the ledger only as strings (``format_amount``).
"""

from __future__ import annotations

import heapq
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from airflow_provider_altcraft.sandbox.ledger.core import LedgerCore
from airflow_provider_altcraft.sandbox.ledger.records import (
    E_CANCELLED,
    E_COMMITTED,
    E_DUPLICATE,
    E_EXPIRED,
    E_INSUFFICIENT,
    E_NOT_TEMP,
    E_ROLLED_BACK,
    E_TIERS_GROUP,
    E_TX,
    PERMANENT,
    ZERO,
    Account,
    Match,
    Member,
    Transaction,
    fail,
)
from airflow_provider_altcraft.sandbox.values import format_amount, format_time, utcnow

__all__ = ["Accounts"]


class Accounts(LedgerCore):
    """The API operations on points accounts and memberships."""

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
                    raise fail(E_DUPLICATE, {"transaction_id": same_eid[0].transaction_id})
            # The account is created only once the transaction is accepted (no empty accounts
            # left behind by refused redemptions).
            existing = self._accounts.get((program_id, member.profile_id, currency.iid))
            now = utcnow()
            before = existing.active(now) if existing is not None else ZERO
            after = before
            if kind == "redeem":
                if amount > before:
                    raise fail(E_INSUFFICIENT)
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
                raise fail(E_COMMITTED)
            if tx.replaced_by is not None:
                if action != "cancel":
                    raise fail(E_COMMITTED)
                tx = self._txs[tx.replaced_by]  # cancelling it cancels what holds its points
            status = tx.status
            if status == "cancelled":
                raise fail(E_CANCELLED)
            if status == "rolled_back":
                raise fail(E_ROLLED_BACK)
            if status == "expired":
                raise fail(E_EXPIRED)
            if action != "cancel" and status == "committed":
                raise fail(E_COMMITTED)
            if action != "cancel" and status == "active":
                raise fail(E_NOT_TEMP)
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
                    raise fail(E_TX)
                return []
            start = 0
            if from_id is not None:
                pos = account.position.get(from_id)
                if pos is None:
                    raise fail(E_TX)
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
                raise fail(E_TIERS_GROUP)
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
