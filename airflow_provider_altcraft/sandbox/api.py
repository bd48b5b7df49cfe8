"""Altcraft loyalty endpoint handlers: validate the request body, call the ledger, shape data.

Each handler takes the decoded JSON body and returns the *top-level* fields of a successful
envelope (usually ``{"data": ...}``); errors are raised as :class:`ApiError` and turned into
``{"error": code, "error_text": text, "data": ...}`` by the application layer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from airflow_provider_altcraft.sandbox.config import SandboxConfig
from airflow_provider_altcraft.sandbox.ledger import Ledger, Match
from airflow_provider_altcraft.sandbox.values import (
    ApiError,
    format_amount,
    format_plain_amount,
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


#: Keys of answers that hold amounts (re-rendered for the amount_format option).
AMOUNT_KEYS = frozenset(
    {"amount", "balance_before", "balance_after", "balance", "total_balance",
     "active_balance", "expiring_points"}
)  # fmt: skip


def amount_renderer(config: SandboxConfig) -> Callable[[Decimal], str]:
    return format_plain_amount if config.amount_format == "plain" else format_amount


def _render_amounts(data: Any, config: SandboxConfig) -> Any:
    """Answers leave the ledger padded ("475.00"); re-render them as configured."""
    if config.amount_format == "padded":
        return data
    if isinstance(data, list):
        return [_render_amounts(item, config) for item in data]
    if isinstance(data, dict):
        return {
            key: format_plain_amount(Decimal(value))
            if key in AMOUNT_KEYS and isinstance(value, str)
            else value
            for key, value in data.items()
        }
    return data


def _match(body: Body, config: SandboxConfig) -> Match:
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
    exact = config.email_matching == "exact"
    value = body.get(mode)
    if value is None or value == "":
        raise ApiError(400, f"{mode} is required when matching = {mode}")
    if not isinstance(value, str):
        raise ApiError(400, f"{mode} must be a string")
    return Match(str(mode), value, exact_email=exact)


def _currency(body: Body, *, required: bool) -> tuple[int | None, str | None]:
    """The currency; ``required`` when the guide says so or currency_when_omitted=refuse."""
    iid, eid = _int(body, "points_currency_iid"), _str(body, "points_currency_eid")
    if required and iid is None and eid is None:
        raise ApiError(400, "points_currency_iid or points_currency_eid is required")
    return iid, eid


def _optional_currency(body: Body, config: SandboxConfig) -> tuple[int | None, str | None]:
    return _currency(body, required=config.currency_when_omitted == "refuse")


def _period(body: Body, config: SandboxConfig) -> tuple[datetime, datetime]:
    for name in ("date_from", "date_to"):
        if body.get(name) is None:
            raise ApiError(400, f"{name} is required")
    date_only = config.date_only_periods == "accept"
    date_from = parse_date_bound(body["date_from"], "date_from", end=False, date_only=date_only)
    date_to = parse_date_bound(body["date_to"], "date_to", end=True, date_only=date_only)
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
        iid, eid = _optional_currency(body, config)
        data = ledger.post(
            kind=kind,
            program_id=program_id,
            match=_match(body, config),
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
        return {"data": _render_amounts(data, config)}

    return handler


def _settle(action: str) -> ApiHandler:
    def handler(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
        tx_id, tx_eid = _tx_ref(body)
        data = ledger.settle(action, tx_id, tx_eid, config.commit_creates_transaction)
        return {"data": _render_amounts(data, config)}

    return handler


def _balance(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    iid, eid = _optional_currency(body, config)
    return {
        "data": _render_amounts(ledger.balance(program_id, _match(body, config), iid, eid), config)
    }


def _transactions(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    iid, eid = _currency(body, required=True)  # the guide: required
    from_id, limit, match = _str(body, "from_id"), _limit(body), _match(body, config)
    rows = ledger.account_transactions(
        program_id, match, iid, eid, from_id, limit, config.unpublished_fields
    )
    return {"data": _render_amounts(rows, config)}


def _expiring(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    iid, eid = _currency(body, required=True)
    date_from, date_to = _period(body, config)
    match = _match(body, config)
    data = ledger.expiring_points(program_id, match, iid, eid, date_from, date_to)
    return {"data": _render_amounts(data, config)}


def _tiers(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    group = _req_int(body, "tiers_group_id")
    reached_all = config.tiers == "reached"
    return {"data": ledger.tiers(program_id, _match(body, config), group, reached_all)}


def _promotions(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    from_id, limit, is_active = _int(body, "from_id"), _limit(body), _bool(body, "is_active")
    page, next_from_id, total = ledger.promotions(program_id, from_id, limit, is_active)
    return {"data": page, "next_from_id": next_from_id, "total_count": total}


def _export(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    iid, eid = _currency(body, required=True)
    date_from, date_to = _period(body, config)
    task_id = ledger.create_export(
        program_id, iid, eid, date_from, date_to, _str(body, "from_id"),
        config.export_delay_sec, config.export_mode,
        unpublished=config.unpublished_fields, files=config.export_files,
        amounts=amount_renderer(config),
    )  # fmt: skip
    return {"data": {"task_id": task_id}}


def _task_status(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    task_id = _str(body, "task_id", required=True)
    assert task_id is not None
    return {"data": ledger.task_status(task_id, config.task_pending_status)}


def _register(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    registered = _time(body, "registration_date")
    return {"profile_id": ledger.register_member(program_id, _match(body, config), registered)}


def _delete(ledger: Ledger, config: SandboxConfig, body: Body) -> dict[str, Any]:
    program_id = _req_int(body, "loyalty_program_id")
    return {"profile_id": ledger.delete_member(program_id, _match(body, config))}


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
