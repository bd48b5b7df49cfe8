"""Altcraft loyalty endpoint handlers: validate the request body, call the ledger, shape data.

Each handler takes the decoded JSON body and returns the *top-level* fields of a successful
envelope (usually ``{"data": ...}``); errors are raised as :class:`ApiError` and turned into
``{"error": code, "error_text": text, "data": ...}`` by the application layer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from airflow_provider_altcraft.sandbox.config import SandboxConfig
from airflow_provider_altcraft.sandbox.ledger import Ledger, Match
from airflow_provider_altcraft.sandbox.values import (
    ApiError,
    parse_amount,
    parse_date_bound,
    parse_rfc3339,
)

__all__ = ["HANDLERS", "ApiHandler"]

Body = dict[str, Any]
ApiHandler = Callable[[Ledger, SandboxConfig, Body], dict[str, Any]]
MATCHING_MODES = ("email", "phone", "profile_id", "custom")


# ---------------------------------------------------------------- field validation
def _int(body: Body, name: str, *, required: bool = False, lo: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} must be an integer")
    if lo is not None and value < lo:
        raise ApiError(400, f"{name} must be >= {lo}")
    return value


def _req_int(body: Body, name: str) -> int:
    value = _int(body, name, required=True)
    assert value is not None
    return value


def _str(body: Body, name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, f"{name} is required")
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    if required and value == "":
        raise ApiError(400, f"{name} must not be empty")
    return value


def _bool(body: Body, name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be a boolean")
    return value


def _time(body: Body, name: str) -> datetime | None:
    value = body.get(name)
    # Fractions of a second are dropped: the sandbox stores and renders whole seconds.
    return None if value is None else parse_rfc3339(value, name).replace(microsecond=0)


def _limit(body: Body) -> int:
    limit = _int(body, "limit")
    if limit is None:
        return 20
    if not 1 <= limit <= 100:
        raise ApiError(400, "limit must be between 1 and 100")
    return limit


def _match(body: Body) -> Match:
    mode = body.get("matching")
    if mode is None:
        raise ApiError(400, "matching is required")
    if mode not in MATCHING_MODES:
        raise ApiError(400, f"Unsupported matching mode; use one of {', '.join(MATCHING_MODES)}")
    if mode == "custom":
        field_name = _str(body, "field_name", required=True)
        value = body.get("field_value")
        if value is None:
            raise ApiError(400, "field_value is required when matching = custom")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ApiError(400, "field_value must be a string or an integer")
        return Match("custom", str(value), field_name)  # compared as strings: 123 == "123"
    value = body.get(mode)
    if value is None or value == "":
        raise ApiError(400, f"{mode} is required when matching = {mode}")
    if not isinstance(value, str):
        raise ApiError(400, f"{mode} must be a string")
    return Match(str(mode), value)


def _currency(body: Body) -> tuple[int | None, str | None]:
    return _int(body, "points_currency_iid"), _str(body, "points_currency_eid")


def _period(body: Body) -> tuple[datetime, datetime]:
    for name in ("date_from", "date_to"):
        if body.get(name) is None:
            raise ApiError(400, f"{name} is required")
    date_from = parse_date_bound(body["date_from"], "date_from", end=False)
    date_to = parse_date_bound(body["date_to"], "date_to", end=True)
    if date_from > date_to:
        raise ApiError(400, "date_from must not be after date_to")
    return date_from, date_to


def _tx_ref(body: Body) -> tuple[str | None, str | None]:
    tx_id = _str(body, "transaction_id")
    tx_eid = _str(body, "transaction_eid")
    if tx_id is None and tx_eid is None:
        raise ApiError(400, "transaction_id or transaction_eid is required")
    return tx_id, tx_eid


# ---------------------------------------------------------------- handlers
def _post_points(kind: str) -> ApiHandler:
    def handler(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
        program_id = _req_int(body, "loyalty_program_id")
        if body.get("amount") is None:
            raise ApiError(400, "amount is required")
        amount = parse_amount(body["amount"])
        is_temp = bool(_bool(body, "is_temp"))
        timeout = _int(body, "temp_timeout_sec", lo=1)
        external_data = body.get("external_data")
        if external_data is not None and not isinstance(external_data, dict):
            raise ApiError(400, "external_data must be a JSON object")
        activation = expiration = None
        if kind == "accrual":
            activation, expiration = _time(body, "activation_date"), _time(body, "expiration_date")
            if activation and expiration and activation >= expiration:
                raise ApiError(400, "activation_date must be before expiration_date")
        iid, eid = _currency(body)
        data = ledger.post(
            kind=kind,
            program_id=program_id,
            match=_match(body),
            currency_iid=iid,
            currency_eid=eid,
            amount=amount,
            is_temp=is_temp,
            temp_timeout_sec=timeout or config.default_temp_timeout_sec,
            created_at=_time(body, "created_at"),
            transaction_eid=_str(body, "transaction_eid"),
            external_data=external_data,
            promotion_id=_str(body, "promotion_id"),
            activation_date=activation,
            expiration_date=expiration,
            duplicate_eid=config.duplicate_eid,
        )
        return {"data": data}

    return handler


def _settle(action: str) -> ApiHandler:
    def handler(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
        tx_id, tx_eid = _tx_ref(body)
        return {"data": ledger.settle(action, tx_id, tx_eid)}

    return handler


def _balance(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    iid, eid = _currency(body)
    return {"data": ledger.balance(program_id, _match(body), iid, eid)}


def _transactions(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    iid, eid = _currency(body)
    from_id, limit, match = _str(body, "from_id"), _limit(body), _match(body)
    return {"data": ledger.account_transactions(program_id, match, iid, eid, from_id, limit)}


def _expiring(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    iid, eid = _currency(body)
    if iid is None and eid is None:
        raise ApiError(400, "points_currency_iid or points_currency_eid is required")
    date_from, date_to = _period(body)
    match = _match(body)
    return {"data": ledger.expiring_points(program_id, match, iid, eid, date_from, date_to)}


def _tiers(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    group = _req_int(body, "tiers_group_id")
    return {"data": ledger.tiers(program_id, _match(body), group)}


def _promotions(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    from_id, limit, is_active = _int(body, "from_id"), _limit(body), _bool(body, "is_active")
    page, next_from_id, total = ledger.promotions(program_id, from_id, limit, is_active)
    return {"data": page, "next_from_id": next_from_id, "total_count": total}


def _export(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    iid, eid = _currency(body)
    if iid is None and eid is None:
        raise ApiError(400, "points_currency_iid or points_currency_eid is required")
    date_from, date_to = _period(body)
    task_id = ledger.create_export(
        program_id, iid, eid, date_from, date_to, _str(body, "from_id"),
        config.export_delay_sec, config.export_mode,
    )  # fmt: skip
    return {"data": {"task_id": task_id}}


def _task_status(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    task_id = _str(body, "task_id", required=True)
    assert task_id is not None
    return {"data": ledger.task_status(task_id)}


def _register(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    registered = _time(body, "registration_date")
    return {"profile_id": ledger.register_member(program_id, _match(body), registered)}


def _delete(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    return {"profile_id": ledger.delete_member(program_id, _match(body))}


HANDLERS: dict[str, ApiHandler] = {
    "loyalty/redeeme_points": _post_points("redeem"),
    "loyalty/accrue_points": _post_points("accrual"),
    "loyalty/commit_transaction": _settle("commit"),
    "loyalty/rollback_transaction": _settle("rollback"),
    "loyalty/cancel_transaction": _settle("cancel"),
    "loyalty/account/balance": _balance,
    "loyalty/account/transactions": _transactions,
    "loyalty/account/expiring_points": _expiring,
    "loyalty/account/tiers": _tiers,
    "loyalty/trigger_promotions": _promotions,
    "loyalty/transactions_export": _export,
    "tasks/status": _task_status,
    "loyalty/register_member": _register,
    "loyalty/delete_member": _delete,
}
