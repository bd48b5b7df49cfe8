"""The Altcraft sandbox over real HTTP (one subprocess sandbox per module, reset per test)."""

from __future__ import annotations

import csv
import io
import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_altcraft.sandbox import (
    SEED_EXAMPLE,
    SandboxApp,
    SandboxError,
    SandboxHandle,
    run_sandbox,
)
from airflow_provider_altcraft.sandbox import api as api_module
from airflow_provider_altcraft.sandbox.http import Request
from airflow_provider_altcraft.sandbox.ledger import PUBLISHED_FIELDS

TOKEN = "test-token"
ANN = {"matching": "email", "email": "ann@example.com"}
BOB = {"matching": "profile_id", "profile_id": "p-2"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(token=TOKEN, seed=SEED_EXAMPLE) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _reset(sandbox: SandboxHandle) -> None:
    sandbox.reset()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


class Api:
    def __init__(self, sb: SandboxHandle, session: requests.Session) -> None:
        self.sb, self.session = sb, session

    def raw(self, method: str, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.session.post(f"{self.sb.url}/api/v1.1/{method}", json=body, **kwargs)

    def __call__(self, method: str, **body: Any) -> dict[str, Any]:
        body.setdefault("token", TOKEN)
        response = self.raw(method, body)
        result: dict[str, Any] = response.json()
        return result

    def ok(self, method: str, **body: Any) -> dict[str, Any]:
        result = self(method, **body)
        assert result["error"] == 0, result
        return result

    def redeem(self, amount: str, who: dict[str, Any] = ANN, **extra: Any) -> dict[str, Any]:
        return self("loyalty/redeeme_points", loyalty_program_id=1, amount=amount, **who, **extra)

    def accrue(self, amount: str, who: dict[str, Any] = ANN, **extra: Any) -> dict[str, Any]:
        return self("loyalty/accrue_points", loyalty_program_id=1, amount=amount, **who, **extra)

    def balance(self, who: dict[str, Any] = ANN) -> dict[str, str]:
        data: dict[str, str] = self.ok("loyalty/account/balance", loyalty_program_id=1, **who)[
            "data"
        ]
        return data


@pytest.fixture
def api(sandbox: SandboxHandle, http: requests.Session) -> Api:
    return Api(sandbox, http)


# ---------------------------------------------------------------- basics and auth
def test_health_and_ledger(sandbox: SandboxHandle) -> None:
    assert sandbox.health()
    ledger = sandbox.ledger()
    assert {p["id"] for p in ledger["programs"]} == {1, 2}
    opening = [t for t in ledger["transactions"] if t["description"] == "opening balance"]
    assert len(opening) == 4
    assert sandbox.balance(1, "p-1", "stars")["total_balance"] == Decimal("500.00")


@pytest.mark.parametrize(
    "who",
    [
        {"matching": "email", "email": "ann@example.com"},
        {"matching": "email", "email": "ANN@example.com"},
        {"matching": "phone", "phone": "+15550000001"},
        {"matching": "profile_id", "profile_id": "p-1"},
        {"matching": "custom", "field_name": "user_id", "field_value": "1001"},
        {"matching": "custom", "field_name": "user_id", "field_value": 1001},
    ],
)
def test_matching_modes(api: Api, who: dict[str, Any]) -> None:
    # Amounts are rendered "plain" by default (amount_format): "500", not "500.00".
    assert api.balance(who) == {"total_balance": "500", "active_balance": "500"}


def test_custom_matching_int_seed_value(api: Api) -> None:
    who = {"matching": "custom", "field_name": "user_id", "field_value": "1003"}
    assert api.balance(who)["total_balance"] == "0"


def test_token_in_header_and_body(api: Api, sandbox: SandboxHandle) -> None:
    body = {"loyalty_program_id": 1, **ANN}
    by_header = api.raw(
        "loyalty/account/balance", body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert by_header.json()["error"] == 0
    assert api.raw("loyalty/account/balance", {**body, "token": TOKEN}).json()["error"] == 0
    for bad in ({**body, "token": "wrong"}, body):
        response = api.raw("loyalty/account/balance", bad)
        assert response.status_code == 200
        assert response.json() == {"error": 401, "error_text": "API token required", "data": None}


def test_unknown_method_bad_json_and_validation(api: Api, sandbox: SandboxHandle) -> None:
    assert api("loyalty/nope")["error_text"] == "Unknown method"
    response = api.session.post(f"{sandbox.url}/api/v1.1/loyalty/account/balance", data=b"{x")
    assert response.json()["error"] == 400
    assert api.session.post(f"{sandbox.url}/api/v1.1/tasks/status", data=b"[1]").json()[
        "error_text"
    ] == ("Request body must be a JSON object")
    assert api.redeem(100)["error"] == 400  # type: ignore[arg-type]
    assert api.redeem("-1")["error"] == 400
    assert api.redeem("0")["error"] == 400
    assert api("loyalty/account/balance", **ANN)["error_text"] == "loyalty_program_id is required"
    assert api("loyalty/account/balance", loyalty_program_id=1)["error_text"] == (
        "matching is required"
    )
    assert api("loyalty/account/balance", loyalty_program_id=1, matching="email")["error"] == 400
    bad_date = api.redeem("1", created_at="yesterday")
    assert bad_date["error"] == 400
    limit = api(
        "loyalty/account/transactions",
        loyalty_program_id=1,
        points_currency_eid="stars",
        limit=0,
        **ANN,
    )
    assert limit["error_text"] == "limit must be between 1 and 100"


def test_not_found_errors(api: Api) -> None:
    nobody = {"matching": "email", "email": "nobody@example.com"}
    assert api.redeem("1", nobody)["error_text"] == "Profile not found"
    assert api.redeem("1", {"matching": "profile_id", "profile_id": "p-4"})["error"] == 404
    assert api.redeem("1", {"matching": "profile_id", "profile_id": "p-4"})["error_text"] == (
        "Member not found"
    )
    result = api("loyalty/account/balance", loyalty_program_id=99, **ANN)
    assert result["error_text"] == "Loyalty program not found"
    assert api.redeem("1", points_currency_eid="gems")["error_text"] == "Points currency not found"


# ---------------------------------------------------------------- redeem / accrue
def test_redeem_and_overdraw(api: Api, sandbox: SandboxHandle) -> None:
    data = api.redeem("100.50", points_currency_eid="stars", transaction_eid="o-1")["data"]
    assert data["balance_before"] == "500" and data["balance_after"] == "399.5"
    refused = api.redeem("399.51")
    assert (refused["error"], refused["error_text"]) == (409, "Insufficient points")
    assert sandbox.balance(1, "p-1", "stars")["active_balance"] == Decimal("399.50")
    (tx,) = sandbox.transactions(transaction_id=data["transaction_id"])
    assert tx["transaction_type"] == "redeem" and tx["status"] == "active"
    assert tx["transaction_eid"] == "o-1" and tx["amount"] == "100.50"


def test_accrue_dates_and_precision(api: Api, sandbox: SandboxHandle) -> None:
    data = api.accrue("1.005", created_at="2023-05-01T10:00:00.123+02:00")["data"]
    assert data["balance_after"] == "501.005"
    (tx,) = sandbox.transactions(transaction_id=data["transaction_id"])
    assert tx["created_at"] == "2023-05-01T08:00:00Z"
    future = api.accrue("50", activation_date="2099-01-01T00:00:00Z")["data"]
    assert future["balance_after"] == future["balance_before"]
    api.accrue("30", expiration_date="2000-01-01T00:00:00Z")
    bal = api.balance()
    assert bal == {"total_balance": "581.005", "active_balance": "501.005"}
    assert api.redeem("501.01")["error_text"] == "Insufficient points"
    assert (
        api.accrue(
            "1", activation_date="2030-01-01T00:00:00Z", expiration_date="2029-01-01T00:00:00Z"
        )["error"]
        == 400
    )


def test_currency_selection(api: Api) -> None:
    assert api.balance({**ANN, "points_currency_iid": 2})["total_balance"] == "20"  # type: ignore[dict-item]
    mismatch = api(
        "loyalty/account/balance",
        loyalty_program_id=1,
        points_currency_iid=2,
        points_currency_eid="stars",
        **ANN,
    )
    assert mismatch["error"] == 404
    program2 = api("loyalty/account/balance", loyalty_program_id=2, **ANN)
    assert program2["data"]["total_balance"] == "75"


def test_expiring_points(api: Api) -> None:
    api.accrue("12", expiration_date="2099-03-10T12:00:00Z")
    api.accrue("3.5", expiration_date="2099-04-01T00:00:00Z")
    result = api.ok(
        "loyalty/account/expiring_points",
        loyalty_program_id=1,
        points_currency_eid="stars",
        date_from="2099-03-01T00:00:00Z",
        date_to="2099-03-31T23:59:59Z",
        **ANN,
    )
    assert result["data"] == {"expiring_points": "12"}
    missing = api(
        "loyalty/account/expiring_points",
        loyalty_program_id=1,
        date_from="2099-03-01T00:00:00Z",
        date_to="2099-03-31T23:59:59Z",
        **ANN,
    )
    assert (missing["error"], missing["error_text"]) == (
        400,
        "points_currency_iid or points_currency_eid is required",
    )


# ---------------------------------------------------------------- temporary transactions
def test_temp_redeem_commit(api: Api, sandbox: SandboxHandle) -> None:
    data = api.redeem("100", is_temp=True, transaction_eid="t-1")["data"]
    assert data["balance_after"] == "400"
    assert api.balance() == {"total_balance": "500", "active_balance": "400"}
    # A redeem is committed in place (commit_creates_transaction="accrual"): same id.
    committed = api.ok("loyalty/commit_transaction", transaction_eid="t-1")["data"]
    assert committed == {"transaction_id": data["transaction_id"], "balance": "400"}
    assert api.balance() == {"total_balance": "400", "active_balance": "400"}
    again = api("loyalty/commit_transaction", transaction_id=data["transaction_id"])
    assert (again["error"], again["error_text"]) == (409, "Transaction is already committed")
    assert sandbox.transactions(transaction_id=data["transaction_id"])[0]["status"] == "committed"


def test_temp_rollback_and_errors(api: Api) -> None:
    tx_id = api.redeem("100", is_temp=True)["data"]["transaction_id"]
    assert api.ok("loyalty/rollback_transaction", transaction_id=tx_id)["data"]["balance"] == (
        "500"
    )
    assert api("loyalty/rollback_transaction", transaction_id=tx_id)["error_text"] == (
        "Transaction is already rolled back"
    )
    assert api("loyalty/commit_transaction", transaction_id=tx_id)["error_text"] == (
        "Transaction is already rolled back"
    )
    permanent = api.redeem("1")["data"]["transaction_id"]
    assert api("loyalty/commit_transaction", transaction_id=permanent)["error_text"] == (
        "Transaction is not temporary"
    )
    unknown = api(
        "loyalty/commit_transaction", transaction_id="00000000-0000-0000-0000-000000000000"
    )
    assert (unknown["error"], unknown["error_text"]) == (404, "Transaction not found")
    assert api("loyalty/commit_transaction")["error"] == 400
    other = api.redeem("1", transaction_eid="x")["data"]["transaction_id"]
    mixed = api("loyalty/cancel_transaction", transaction_id=tx_id, transaction_eid="x")
    assert mixed["error"] == 400 and other


def test_temp_accrual_counts_only_when_committed(api: Api) -> None:
    tx_id = api.accrue("50", is_temp=True)["data"]["transaction_id"]
    assert api.balance() == {"total_balance": "500", "active_balance": "500"}
    api.ok("loyalty/commit_transaction", transaction_id=tx_id)
    assert api.balance() == {"total_balance": "550", "active_balance": "550"}


def test_temp_expiry_without_traffic(api: Api, sandbox: SandboxHandle) -> None:
    tx_id = api.redeem("100", is_temp=True, temp_timeout_sec=1)["data"]["transaction_id"]
    assert sandbox.balance(1, "p-1", "stars")["held_balance"] == Decimal("100")
    sandbox.clear_requests()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        ledger = sandbox.ledger()  # control endpoint only: expiry comes from the timer
        status = next(t for t in ledger["transactions"] if t["transaction_id"] == tx_id)["status"]
        if status == "expired":
            break
        time.sleep(0.1)
    assert status == "expired"
    assert sandbox.requests() == []
    assert api("loyalty/commit_transaction", transaction_id=tx_id)["error_text"] == (
        "Transaction has expired"
    )
    assert api.balance()["active_balance"] == "500"


def test_cancel(api: Api, sandbox: SandboxHandle) -> None:
    tx_id = api.redeem("100")["data"]["transaction_id"]
    assert api.ok("loyalty/cancel_transaction", transaction_id=tx_id)["data"]["balance"] == "500"
    twice = api("loyalty/cancel_transaction", transaction_id=tx_id)
    assert (twice["error"], twice["error_text"]) == (409, "Transaction is already cancelled")
    temp = api.accrue("5", is_temp=True)["data"]["transaction_id"]
    api.ok("loyalty/cancel_transaction", transaction_id=temp)
    assert sandbox.transactions(transaction_id=temp)[0]["status"] == "cancelled"
    assert api.balance()["total_balance"] == "500"


def test_duplicate_eid_accept_and_refuse(api: Api, sandbox: SandboxHandle) -> None:
    first = api.redeem("10", transaction_eid="dup")["data"]["transaction_id"]
    api.ok(
        "loyalty/redeeme_points", loyalty_program_id=1, amount="10", transaction_eid="dup", **ANN
    )
    assert len(sandbox.transactions(transaction_eid="dup")) == 2
    assert sandbox.configure(duplicate_eid="refuse")["duplicate_eid"] == "refuse"
    refused = api.redeem("10", transaction_eid="dup")
    assert (refused["error"], refused["error_text"]) == (409, "Duplicate transaction_eid")
    assert refused["data"] == {"transaction_id": first}
    assert len(sandbox.transactions(transaction_eid="dup")) == 2


# ---------------------------------------------------------------- listings
def test_transactions_paging(api: Api) -> None:
    ids = [api.accrue("1", transaction_eid=f"e{i}")["data"]["transaction_id"] for i in range(24)]
    seen: list[str] = []
    from_id = None
    while True:
        body: dict[str, Any] = {
            "loyalty_program_id": 1,
            "points_currency_eid": "stars",
            "limit": 10,
            **ANN,
        }
        if from_id:
            body["from_id"] = from_id
        page = api.ok("loyalty/account/transactions", **body)["data"]
        seen += [t["transaction_id"] for t in page]
        if len(page) < 10:
            break
        from_id = page[-1]["transaction_id"]
    assert seen[1:] == ids  # the opening balance comes first
    assert len(seen) == 25
    row = api.ok(
        "loyalty/account/transactions",
        loyalty_program_id=1,
        points_currency_eid="stars",
        limit=1,
        **ANN,
    )["data"][0]
    # Only the guide's published fields by default (no status, is_temp).
    assert list(row) == list(PUBLISHED_FIELDS)
    assert "status" not in row and "is_temp" not in row
    bad = api(
        "loyalty/account/transactions",
        loyalty_program_id=1,
        points_currency_eid="stars",
        from_id="nope",
        **ANN,
    )
    assert bad["error_text"] == "Transaction not found"


def test_promotions_paging(api: Api) -> None:
    first = api.ok("loyalty/trigger_promotions", loyalty_program_id=1, limit=1)
    assert [p["id"] for p in first["data"]] == [10]
    assert first["next_from_id"] == 10 and first["total_count"] == 2
    second = api.ok("loyalty/trigger_promotions", loyalty_program_id=1, limit=1, from_id=10)
    assert [p["id"] for p in second["data"]] == [11] and second["next_from_id"] is None
    active = api.ok("loyalty/trigger_promotions", loyalty_program_id=1, is_active=True)
    assert [p["id"] for p in active["data"]] == [10] and active["total_count"] == 1


def test_tiers(api: Api) -> None:
    data = api.ok("loyalty/account/tiers", loyalty_program_id=1, tiers_group_id=7, **ANN)["data"]
    assert data == [
        {
            "tiers_group_type": "status",
            "tier_eid": "silver",
            "tier_id": 1,
            "tier_order": 0,  # renumbered from 0 (the seed's tier_order is 1)
            "reached_at": "2024-01-15T10:00:00Z",
        }
    ]
    none = api.ok(
        "loyalty/account/tiers",
        loyalty_program_id=1,
        tiers_group_id=7,
        profile_id="p-3",
        matching="profile_id",
    )
    assert none["data"] == []
    assert (
        api("loyalty/account/tiers", loyalty_program_id=1, tiers_group_id=8, **ANN)["error_text"]
        == "Tiers group not found"
    )


def test_register_and_delete_member(api: Api, sandbox: SandboxHandle) -> None:
    dee = {"matching": "phone", "phone": "+15550000004"}
    reg = api("loyalty/register_member", loyalty_program_id=1, **dee)
    assert reg == {"error": 0, "error_text": "Successful operation", "profile_id": "p-4"}
    assert api("loyalty/register_member", loyalty_program_id=1, **dee)["profile_id"] == "p-4"
    api.ok("loyalty/accrue_points", loyalty_program_id=1, amount="5", **dee)
    assert api("loyalty/delete_member", loyalty_program_id=1, **dee)["profile_id"] == "p-4"
    assert api("loyalty/delete_member", loyalty_program_id=1, **dee)["error_text"] == (
        "Member not found"
    )
    assert sandbox.transactions(profile_id="p-4")[0]["amount"] == "5.00"
    api.ok("loyalty/register_member", loyalty_program_id=1, **dee)
    assert api.balance(dee)["total_balance"] == "5"


# ---------------------------------------------------------------- export
def _export(api: Api, **extra: Any) -> str:
    data = api.ok(
        "loyalty/transactions_export",
        loyalty_program_id=1,
        points_currency_eid="stars",
        date_from="2024-01-01T00:00:00Z",
        date_to="2099-12-31T23:59:59Z",
        **extra,
    )["data"]
    task_id: str = data["task_id"]
    return task_id


def test_export_download(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(export_delay_sec=0.2)
    tx_id = api.redeem("1.5", transaction_eid="csv-1")["data"]["transaction_id"]
    task_id = _export(api)
    assert api.ok("tasks/status", task_id=task_id)["data"]["status"] == "processing"
    time.sleep(0.3)
    status = api.ok("tasks/status", task_id=task_id)["data"]
    assert status["status"] == "completed" and status["progress"] == 100
    assert status["result"]["total"] == 3 and status["result"]["errors"] == []
    assert status["result"]["type"] == "export"
    (url,) = status["result"]["urls"]
    assert url == f"/api/download/{task_id}/transactions.csv"
    denied = api.session.get(sandbox.url + url)
    assert denied.status_code == 401
    response = api.session.get(sandbox.url + url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
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
    ]
    last = rows[-1]
    assert (last["transaction_id"], last["transaction_eid"], last["amount"]) == (
        tx_id,
        "csv-1",
        "1.5",
    )
    assert (last["balance_before"], last["balance_after"]) == ("500", "498.5")
    assert api("tasks/status", task_id="nope")["error_text"] == "Task not found"


def test_export_fail_and_stuck(api: Api) -> None:
    api.sb.configure(export_delay_sec=0, export_mode="fail")
    failed = api.ok("tasks/status", task_id=_export(api))["data"]
    assert failed["status"] == "failed"
    api.sb.configure(export_mode="stuck")
    stuck = _export(api)
    time.sleep(0.1)
    assert api.ok("tasks/status", task_id=stuck)["data"]["status"] == "processing"


# ---------------------------------------------------------------- faults
def test_fault_http_statuses(api: Api, sandbox: SandboxHandle) -> None:
    body = {"loyalty_program_id": 1, "token": TOKEN, **ANN}
    for kind, status in (("http_500", 500), ("http_503", 503), ("http_429", 429)):
        retry_after = {} if kind == "http_500" else {"retry_after": 2}
        sandbox.set_faults([{"kind": kind, "rate": 1.0, **retry_after}], seed=1)
        response = api.raw("loyalty/account/balance", body)
        assert response.status_code == status and response.json()["error"] == status
        assert response.headers.get("Retry-After") == ("2" if retry_after else None)
    sandbox.set_faults([{"kind": "http_500", "rate": 1.0, "max_count": 1}])
    assert api.raw("loyalty/account/balance", body).status_code == 500
    assert api.raw("loyalty/account/balance", body).status_code == 200
    assert sandbox.faults()["rules"][0]["hits"] == 1
    sandbox.set_faults([{"kind": "http_500", "rate": 1.0, "methods": ["loyalty/redeeme_points"]}])
    assert api.raw("loyalty/account/balance", body).status_code == 200
    assert api.raw("loyalty/redeeme_points", {**body, "amount": "1"}).status_code == 500
    assert api.balance()["total_balance"] == "500"  # a 5xx fault is not applied


def test_fault_rate_is_deterministic(api: Api, sandbox: SandboxHandle) -> None:
    body = {"loyalty_program_id": 1, "token": TOKEN, **ANN}

    def pattern() -> list[int]:
        sandbox.set_faults([{"kind": "http_503", "rate": 0.5}], seed=42)
        return [api.raw("loyalty/account/balance", body).status_code for _ in range(20)]

    first = pattern()
    assert first == pattern() and 503 in first and 200 in first


def test_fault_delay_does_not_block_others(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.set_faults(
        [{"kind": "delay", "rate": 1.0, "delay_ms": 300, "methods": ["tasks/status"]}]
    )
    import threading

    slow: list[float] = []

    def call_slow() -> None:
        started = time.monotonic()
        requests.post(f"{sandbox.url}/api/v1.1/tasks/status", json={"token": TOKEN, "task_id": "x"})
        slow.append(time.monotonic() - started)

    thread = threading.Thread(target=call_slow)
    thread.start()
    time.sleep(0.05)
    started = time.monotonic()
    api.balance()
    assert time.monotonic() - started < 0.2
    thread.join()
    assert slow[0] >= 0.3


def test_fault_drop_before_and_after(api: Api, sandbox: SandboxHandle) -> None:
    body = {"loyalty_program_id": 1, "token": TOKEN, "amount": "10", **ANN}
    sandbox.set_faults([{"kind": "drop_before", "rate": 1.0}])
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sandbox.url}/api/v1.1/loyalty/redeeme_points", json=body)
    assert sandbox.balance(1, "p-1", "stars")["total_balance"] == Decimal("500")
    sandbox.set_faults([{"kind": "drop_after", "rate": 1.0}])
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{sandbox.url}/api/v1.1/loyalty/redeeme_points",
            json={**body, "transaction_eid": "lost"},
        )
    (tx,) = sandbox.transactions(transaction_eid="lost")
    assert tx["status"] == "active"
    assert sandbox.balance(1, "p-1", "stars")["total_balance"] == Decimal("490")
    assert [r["fault"] for r in sandbox.requests()] == ["drop_before", "drop_after"]
    sandbox.clear_faults()
    assert sandbox.faults()["rules"] == []


def test_invalid_fault_rules(sandbox: SandboxHandle) -> None:
    with pytest.raises(SandboxError, match="kind"):
        sandbox.set_faults([{"kind": "explode"}])


# ---------------------------------------------------------------- config, log, protocol
def test_app_error_http_status_mapped(api: Api, sandbox: SandboxHandle) -> None:
    assert api.raw("loyalty/account/balance", {"token": "bad"}).status_code == 200
    sandbox.configure(app_error_http_status="mapped")
    assert api.raw("loyalty/account/balance", {"token": "bad"}).status_code == 401
    nobody = {"token": TOKEN, "loyalty_program_id": 1, "matching": "profile_id", "profile_id": "zz"}
    assert api.raw("loyalty/account/balance", nobody).status_code == 404
    assert api.raw("loyalty/redeeme_points", {**nobody, **ANN, "amount": "9999"}).status_code == 409
    with pytest.raises(SandboxError):
        sandbox.configure(app_error_http_status="teapot")
    sandbox.reset()
    assert sandbox.config()["app_error_http_status"] == "200"


def test_requests_log(api: Api, sandbox: SandboxHandle) -> None:
    assert sandbox.requests() == []
    api.balance()
    api("loyalty/nope")
    log = sandbox.requests()
    assert [(r["method"], r["http_status"], r["error"]) for r in log] == [
        ("loyalty/account/balance", 200, 0),
        ("loyalty/nope", 200, 400),
    ]
    assert "token" not in json.dumps(log)
    sandbox.clear_requests()
    assert sandbox.requests() == []


def test_seed_endpoint(sandbox: SandboxHandle, api: Api) -> None:
    seed = {
        "programs": [{"id": 5, "currencies": [{"iid": 9, "eid": "pts"}]}],
        "profiles": [{"profile_id": "z"}],
        "members": [{"program_id": 5, "profile_id": "z", "balances": {"pts": "7"}}],
    }
    sandbox.load_seed(seed)
    assert sandbox.balance(5, "z", "pts")["total_balance"] == Decimal("7")
    sandbox.reset()
    assert sandbox.balance(5, "z", "pts")["total_balance"] == Decimal("7")
    with pytest.raises(SandboxError, match="unknown program_id"):
        sandbox.load_seed({"members": [{"program_id": 1, "profile_id": "x"}]})
    sandbox.load_seed(SEED_EXAMPLE)


def _raw_http(url: str, data: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_protocol_edges(sandbox: SandboxHandle) -> None:
    reply = _raw_http(sandbox.url, b"POST /api/v1.1/tasks/status HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 411")
    chunked = b"POST /api/v1.1/tasks/status HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert _raw_http(sandbox.url, chunked).startswith(b"HTTP/1.1 411")
    # Connection: close is honoured: the server closes after one response (recv sees EOF).
    body = b'{"task_id": "x"}'
    close = (
        b"POST /api/v1.1/tasks/status HTTP/1.1\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    reply = _raw_http(sandbox.url, close)
    assert reply.startswith(b"HTTP/1.1 200") and b"Connection: close" in reply
    assert reply.endswith(b'"data":null}')


def test_handler_exception_becomes_500(monkeypatch: pytest.MonkeyPatch) -> None:
    app = SandboxApp(token="t")

    def boom(*_args: object) -> dict[str, Any]:
        raise RuntimeError("bug")

    monkeypatch.setitem(api_module.HANDLERS, "tasks/status", boom)
    request = Request("POST", "/api/v1.1/tasks/status", "", {}, b'{"token": "t"}')
    response = app.handle(request)
    assert response.status == 500
    assert json.loads(response.body)["error"] == 500


def test_state_file_round_trip(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with run_sandbox(token="s", seed=SEED_EXAMPLE, state_file=state) as sb:
        response = requests.post(
            f"{sb.url}/api/v1.1/loyalty/redeeme_points",
            json={"token": "s", "loyalty_program_id": 1, "amount": "12.25", **ANN},
        )
        assert response.json()["error"] == 0
        before = sb.ledger()
    assert state.exists()
    with run_sandbox(token="s", state_file=state) as sb:
        after = sb.ledger()
        assert after["transactions"] == before["transactions"]
        assert after["balances"] == before["balances"]
        sb.reset()  # the reset target (the seed) was persisted too
        assert len(sb.ledger()["transactions"]) == 4


def test_in_process_and_connect() -> None:
    with run_sandbox(token="ip", in_process=True) as sb:
        other = SandboxHandle.connect(sb.url, "ip")
        assert other.ledger()["transactions"] == []
        reply = requests.post(
            f"{sb.url}/api/v1.1/tasks/status", json={"token": "ip", "task_id": "x"}
        )
        assert reply.json()["error_text"] == "Task not found"


# -- edges found by checking docs/sandbox-wire.md against the server -----------------------------


def _raw_exchange(sandbox: SandboxHandle, data: bytes) -> bytes:
    host, port = sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        return sock.recv(65536)


def test_a_complete_head_over_64_kib_is_refused(sandbox: SandboxHandle) -> None:
    head = b"GET /_sandbox/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    assert _raw_exchange(sandbox, head).startswith(b"HTTP/1.1 431 ")


def test_a_control_post_without_a_body_is_an_empty_body(sandbox: SandboxHandle) -> None:
    answer = _raw_exchange(sandbox, b"POST /_sandbox/reset HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b'"ok": true' in answer or b'"ok":true' in answer


@pytest.mark.parametrize(
    "body",
    [
        {"rules": [], "bogus": 1},
        {"rules": [{"kind": "http_500", "delay_ms": 2}]},
        {"rules": [{"kind": "http_500", "retry_after": 2}]},
    ],
)
def test_fault_options_that_would_be_ignored_are_refused(
    sandbox: SandboxHandle, body: dict[str, Any]
) -> None:
    sandbox.set_faults([{"kind": "delay", "delay_ms": 1}])
    answer = requests.post(f"{sandbox.url}/_sandbox/faults", json=body, timeout=5)
    assert answer.status_code == 400
    assert [rule["kind"] for rule in sandbox.faults()["rules"]] == ["delay"]  # unchanged


def test_http_503_can_carry_retry_after(sandbox: SandboxHandle, http: requests.Session) -> None:
    sandbox.set_faults([{"kind": "http_503", "retry_after": 4}])
    answer = http.post(f"{sandbox.url}/api/v1.1/tasks/status", json={"task_id": "x"}, timeout=5)
    assert (answer.status_code, answer.headers.get("Retry-After")) == (503, "4")


def test_handle_on_a_closed_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    assert SandboxHandle(url, TOKEN).health() is False
    with pytest.raises(SandboxError):
        SandboxHandle.connect(url, TOKEN)


def test_a_sandbox_that_cannot_start_says_it_exited() -> None:
    with (
        pytest.raises(SandboxError, match=r"exited with status 2: .*unknown keys"),
        run_sandbox(token=TOKEN, seed={"bogus": 1}),
    ):
        pass
