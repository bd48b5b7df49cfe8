"""Inspection for the control endpoints: the whole ledger, filtered transactions, one
account's balances (``GET /_sandbox/ledger``, ``/_sandbox/transactions``, ``/_sandbox/balance``)."""

from __future__ import annotations

import time
from typing import Any

from airflow_provider_altcraft.sandbox.ledger.exports import ExportTask
from airflow_provider_altcraft.sandbox.ledger.records import E_CURRENCY, Account, fail
from airflow_provider_altcraft.sandbox.ledger.state import State
from airflow_provider_altcraft.sandbox.values import format_amount, utcnow

__all__ = ["Inspection"]


class Inspection(State):
    """Read-only views (they expire due temporary holds first, as the API does)."""

    _tasks: dict[str, ExportTask]  # kept by Exports

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
                raise fail(E_CURRENCY)
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
