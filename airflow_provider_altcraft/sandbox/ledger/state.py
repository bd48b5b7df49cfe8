"""The ledger's state as JSON-able images: the state file's snapshot and the durable
journal's records (:mod:`airflow_provider_altcraft.sandbox.persistence` writes them)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from airflow_provider_altcraft.sandbox.ledger.core import LedgerCore
from airflow_provider_altcraft.sandbox.ledger.exports import ExportTask
from airflow_provider_altcraft.sandbox.ledger.records import PERMANENT, Member
from airflow_provider_altcraft.sandbox.seed import TierSeed, parse_seed
from airflow_provider_altcraft.sandbox.values import parse_rfc3339

__all__ = ["State"]


class State(LedgerCore):
    """Snapshot (:meth:`to_state`), restore (:meth:`load_state`) and record images."""

    _tasks: dict[str, ExportTask]  # kept by Exports

    def to_state(self) -> dict[str, Any]:
        """A JSON-able snapshot of the complete state (for the state file)."""
        with self._lock:
            return {
                "programs": [p.raw for p in self.programs.values()],
                "profiles": [p.raw for p in self.profiles.values()],
                "members": [m.state() for m in self.members.values()],
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

    def records(
        self,
        *,
        transactions: Iterable[str] = (),
        tasks: Iterable[str] = (),
        members: Iterable[tuple[int, str]] = (),
    ) -> dict[str, list[Any]]:
        """Images (:meth:`to_state`'s form) of the named records, read together under the lock:
        the durable journal's line for the write that created or changed them.

        A transaction comes with the one it replaced or was replaced by (a commit that creates
        a new full transaction changes both); a member that no longer exists is listed by its
        ``[program_id, profile_id]`` under ``members_deleted``. Only non-empty lists are given.
        """
        images: dict[str, list[Any]] = {}
        with self._lock:
            for tx_id in transactions:
                tx = self._txs[tx_id]
                ids = [i for i in (tx.replaces, tx.transaction_id, tx.replaced_by) if i is not None]
                images.setdefault("transactions", []).extend(self._txs[i].full() for i in ids)
            for task_id in tasks:
                images.setdefault("tasks", []).append(self._tasks[task_id].state())
            for key in members:
                member = self.members.get(key)
                if member is None:
                    images.setdefault("members_deleted", []).append(list(key))
                else:
                    images.setdefault("members", []).append(member.state())
        return images
