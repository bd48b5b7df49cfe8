"""Test-control endpoints under ``/_sandbox/`` (no token; JSON in, JSON out).

They let tests inspect and steer the sandbox: read the ledger, reset or replace the seed,
inject faults, change options, read the API request log.

They act on a :class:`Controlled` sandbox (what :class:`~.app.SandboxApp` provides): this
module never imports the application, which imports it.
"""

from __future__ import annotations

from typing import Any, Protocol

from airflow_provider_altcraft.sandbox.body import BadBody, parse_json_body
from airflow_provider_altcraft.sandbox.config import ConfigError, SandboxConfig
from airflow_provider_altcraft.sandbox.faults import FaultError, Faults
from airflow_provider_altcraft.sandbox.http import Request, Response, json_response
from airflow_provider_altcraft.sandbox.ledger import Ledger
from airflow_provider_altcraft.sandbox.seed import SeedError
from airflow_provider_altcraft.sandbox.values import ApiError

__all__ = ["Controlled", "handle_control"]


class Controlled(Protocol):
    """What the control endpoints read and change."""

    ledger: Ledger
    config: SandboxConfig
    faults: Faults
    reset_seed: dict[str, Any] | None  # the target of POST /_sandbox/reset

    def reset(self) -> None: ...

    def clear_requests(self) -> None: ...

    def logged_requests(self) -> tuple[list[dict[str, Any]], int]: ...


def _bad(text: str, status: int = 400) -> Response:
    return json_response(status, {"ok": False, "error": text})


def _json_body(request: Request) -> Any:
    try:
        body = parse_json_body(request.body)
    except BadBody as exc:
        raise ValueError(exc.text) from None
    if not isinstance(body, dict):  # every control call takes an object (or no body)
        raise ValueError("Request body must be a JSON object")
    return body


def handle_control(app: Controlled, request: Request) -> Response:
    route = (request.method, request.path.rstrip("/"))
    try:
        return _route(app, request, route)
    except (ValueError, UnicodeDecodeError) as exc:  # JSON, seed, fault and config errors
        return _bad(str(exc))
    except ApiError as exc:
        return _bad(exc.text, 404 if exc.code == 404 else 400)


def _route(app: Controlled, request: Request, route: tuple[str, str]) -> Response:
    method, path = route
    if route == ("GET", "/_sandbox/health"):
        return json_response(200, {"ok": True})
    if route == ("GET", "/_sandbox/ledger"):
        return json_response(200, app.ledger.dump(app.config.task_pending_status))
    if route == ("GET", "/_sandbox/transactions"):
        rows = app.ledger.transactions(request.query_params())
        return json_response(200, {"transactions": rows, "count": len(rows)})
    if route == ("GET", "/_sandbox/balance"):
        params = request.query_params()
        missing = [k for k in ("program_id", "profile_id", "currency") if k not in params]
        if missing or not params["program_id"].isdigit():
            return _bad("query needs program_id (int), profile_id and currency (eid or iid)")
        balance = app.ledger.account_balance(
            int(params["program_id"]), params["profile_id"], params["currency"]
        )
        return json_response(200, balance)
    if route == ("POST", "/_sandbox/reset"):
        app.reset()
        return json_response(200, {"ok": True})
    if route == ("POST", "/_sandbox/seed"):
        seed = _json_body(request)
        try:
            app.ledger.load_seed(seed)
        except SeedError as exc:
            return _bad(f"invalid seed: {exc}")
        app.reset_seed = seed
        app.faults.clear()
        app.clear_requests()
        return json_response(200, {"ok": True})
    if path == "/_sandbox/faults":
        if method == "POST":
            try:
                app.faults.configure(_json_body(request))
            except FaultError as exc:
                return _bad(f"invalid fault rules: {exc}")
        return json_response(200, app.faults.describe())
    if path == "/_sandbox/config":
        if method == "POST":
            try:
                app.config = app.config.updated(_json_body(request))
            except ConfigError as exc:
                return _bad(str(exc))
        return json_response(200, app.config.as_dict())
    if route == ("GET", "/_sandbox/requests"):
        entries, count = app.logged_requests()
        return json_response(200, {"requests": entries, "count": count})
    if route == ("POST", "/_sandbox/requests/clear"):
        app.clear_requests()
        return json_response(200, {"ok": True})
    return _bad(f"unknown control endpoint {method} {path}", 404)
