"""The sandbox's guide options (sandbox/config.py), each in its default and its switched value.

Every test speaks HTTP to a real sandbox subprocess and asserts the exact wire behaviour: the
envelope, the error texts, the keys of list items, the rendered amounts, the export files.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from airflow_provider_altcraft.sandbox import SEED_EXAMPLE, SandboxError, SandboxHandle, run_sandbox
from airflow_provider_altcraft.sandbox.ledger import PUBLISHED_FIELDS
from tests.sandbox.test_sandbox import ANN, BOB, TOKEN, Api

#: The item fields the guide publishes for loyalty/account/transactions, in its order.
GUIDE_FIELDS = [
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
CURRENCY_REQUIRED = "points_currency_iid or points_currency_eid is required"
UNAUTHORIZED = {"error": 401, "error_text": "API token required", "data": None}
WHOLE_PERIOD = {"date_from": "2024-01-01T00:00:00Z", "date_to": "2099-12-31T23:59:59Z"}
DEFAULTS = {
    "duplicate_eid": "accept",
    "app_error_http_status": "200",
    "export_delay_sec": 0.3,
    "export_mode": "ok",
    "export_files": 1,
    "task_pending_status": "processing",
    "default_temp_timeout_sec": 3600,
    "commit_creates_transaction": "accrual",
    "unpublished_fields": False,
    "date_only_periods": "refuse",
    "currency_when_omitted": "program_default",
    "amount_format": "plain",
    "tiers": "reached",
    "email_matching": "case_insensitive",
    "auth_header": "accept",
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with run_sandbox(token=TOKEN, seed=SEED_EXAMPLE) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _reset(sandbox: SandboxHandle) -> None:
    # load_seed first: a test that loads its own seed makes it the reset target.
    sandbox.load_seed(SEED_EXAMPLE)
    sandbox.reset()  # default options, no faults


@pytest.fixture
def api(sandbox: SandboxHandle) -> Iterator[Api]:
    with requests.Session() as session:
        yield Api(sandbox, session)


# ---------------------------------------------------------------- helpers
def listing(api: Api, who: dict[str, Any] = ANN, **extra: Any) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"points_currency_eid": "stars", "limit": 100, **extra}
    rows: list[dict[str, Any]] = api.ok(
        "loyalty/account/transactions", loyalty_program_id=1, **who, **body
    )["data"]
    return rows


def expiring(api: Api, date_from: str, date_to: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"points_currency_eid": "stars", **extra}
    return api(
        "loyalty/account/expiring_points",
        loyalty_program_id=1,
        date_from=date_from,
        date_to=date_to,
        **ANN,
        **body,
    )


def start_export(api: Api, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"points_currency_eid": "stars", **WHOLE_PERIOD, **extra}
    return api("loyalty/transactions_export", loyalty_program_id=1, **body)


def export_id(api: Api, **extra: Any) -> str:
    answer = start_export(api, **extra)
    assert answer["error"] == 0, answer
    task_id: str = answer["data"]["task_id"]
    return task_id


def finished(api: Api, task_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = api.ok("tasks/status", task_id=task_id)["data"]
        if data["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def download(api: Api, url: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of one export file."""
    response = api.session.get(api.sb.url + url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    header = next(csv.reader(io.StringIO(response.text)))
    return header, list(csv.DictReader(io.StringIO(response.text)))


def control_tx(sandbox: SandboxHandle, tx_id: str) -> dict[str, Any]:
    (tx,) = sandbox.transactions(transaction_id=tx_id)
    return tx


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------- the option set itself
def test_defaults_are_the_strict_reading_and_reset_restores_them(sandbox: SandboxHandle) -> None:
    assert sandbox.config() == DEFAULTS
    switched = {
        "export_files": 3,
        "task_pending_status": "queued",
        "commit_creates_transaction": "never",
        "unpublished_fields": True,
        "date_only_periods": "accept",
        "currency_when_omitted": "refuse",
        "amount_format": "padded",
        "tiers": "current",
        "email_matching": "exact",
        "auth_header": "refuse",
    }
    assert sandbox.configure(**switched) == {**DEFAULTS, **switched}
    sandbox.reset()
    assert sandbox.config() == DEFAULTS


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("commit_creates_transaction", "sometimes"),
        ("date_only_periods", "maybe"),
        ("currency_when_omitted", "guess"),
        ("amount_format", "fancy"),
        ("tiers", "all"),
        ("email_matching", "fuzzy"),
        ("auth_header", "cookie"),
        ("unpublished_fields", "yes"),
        ("export_files", 0),
        ("export_files", True),
        ("task_pending_status", "completed"),
        ("task_pending_status", ""),
    ],
)
def test_invalid_option_values_are_refused_and_nothing_changes(
    sandbox: SandboxHandle, option: str, value: object
) -> None:
    with pytest.raises(SandboxError, match=option):
        sandbox.configure(duplicate_eid="refuse", **{option: value})
    assert sandbox.config() == DEFAULTS


# ---------------------------------------------------------------- amount_format
def test_amount_format_plain_by_default(api: Api, sandbox: SandboxHandle) -> None:
    accrued = api.accrue("100.10", transaction_eid="a-1")["data"]
    assert (accrued["balance_before"], accrued["balance_after"]) == ("500", "600.1")
    assert api.balance() == {"total_balance": "600.1", "active_balance": "600.1"}
    assert api.balance(BOB) == {"total_balance": "120.5", "active_balance": "120.5"}
    nothing = {"matching": "profile_id", "profile_id": "p-3"}
    assert api.balance(nothing) == {"total_balance": "0", "active_balance": "0"}
    row = listing(api)[-1]
    assert (row["amount"], row["balance_before"], row["balance_after"]) == ("100.1", "500", "600.1")
    precise = api.accrue("1.005")["data"]
    assert precise["balance_after"] == "601.105"
    temp = api.redeem("1.105", is_temp=True)["data"]["transaction_id"]
    committed = api.ok("loyalty/commit_transaction", transaction_id=temp)["data"]
    assert committed == {"transaction_id": temp, "balance": "600"}
    assert expiring(api, *WHOLE_PERIOD.values())["data"] == {"expiring_points": "0"}
    api.accrue("7.50", expiration_date="2099-01-01T00:00:00Z")
    assert expiring(api, *WHOLE_PERIOD.values())["data"] == {"expiring_points": "7.5"}
    sandbox.configure(export_delay_sec=0)
    status = finished(api, export_id(api))
    _, rows = download(api, status["result"]["urls"][0])
    by_eid = {r["transaction_eid"]: r for r in rows}
    assert (by_eid["a-1"]["amount"], by_eid["a-1"]["balance_before"]) == ("100.1", "500")
    assert by_eid["a-1"]["balance_after"] == "600.1"
    assert [r["amount"] for r in rows[:2]] == ["500", "120.5"]  # the seed's opening balances
    # The control API keeps its own (padded) rendering: amount_format is about the wire.
    assert control_tx(sandbox, accrued["transaction_id"])["amount"] == "100.10"


def test_amount_format_padded(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(amount_format="padded", export_delay_sec=0)
    accrued = api.accrue("100.10", transaction_eid="a-1")["data"]
    assert (accrued["balance_before"], accrued["balance_after"]) == ("500.00", "600.10")
    assert api.balance() == {"total_balance": "600.10", "active_balance": "600.10"}
    assert api.balance(BOB) == {"total_balance": "120.50", "active_balance": "120.50"}
    nothing = {"matching": "profile_id", "profile_id": "p-3"}
    assert api.balance(nothing) == {"total_balance": "0.00", "active_balance": "0.00"}
    row = listing(api)[-1]
    assert (row["amount"], row["balance_before"], row["balance_after"]) == (
        "100.10",
        "500.00",
        "600.10",
    )
    precise = api.accrue("1.005")["data"]
    assert precise["balance_after"] == "601.105"  # more than two decimals when needed
    temp = api.redeem("1.105", is_temp=True)["data"]["transaction_id"]
    committed = api.ok("loyalty/commit_transaction", transaction_id=temp)["data"]
    assert committed == {"transaction_id": temp, "balance": "600.000"}
    assert expiring(api, *WHOLE_PERIOD.values())["data"] == {"expiring_points": "0.00"}
    status = finished(api, export_id(api))
    _, rows = download(api, status["result"]["urls"][0])
    by_eid = {r["transaction_eid"]: r for r in rows}
    assert (by_eid["a-1"]["amount"], by_eid["a-1"]["balance_before"]) == ("100.10", "500.00")
    assert [r["amount"] for r in rows[:2]] == ["500.00", "120.50"]


# ---------------------------------------------------------------- unpublished_fields
def test_lists_and_export_carry_only_published_fields_by_default(
    api: Api, sandbox: SandboxHandle
) -> None:
    assert list(PUBLISHED_FIELDS) == GUIDE_FIELDS
    api.accrue("5", transaction_eid="perm")
    api.redeem("3", is_temp=True, transaction_eid="temp")
    rows = listing(api)
    assert len(rows) == 3
    for row in rows:
        assert list(row) == GUIDE_FIELDS
    sandbox.configure(export_delay_sec=0)
    status = finished(api, export_id(api))
    header, exported = download(api, status["result"]["urls"][0])
    assert header == GUIDE_FIELDS
    assert {r["transaction_eid"] for r in exported} >= {"perm", "temp"}


def test_unpublished_fields_adds_status_and_is_temp(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(unpublished_fields=True, export_delay_sec=0)
    api.accrue("5", transaction_eid="perm")
    api.redeem("3", is_temp=True, transaction_eid="temp")
    rows = listing(api)
    for row in rows:
        assert list(row) == [*GUIDE_FIELDS, "status", "is_temp"]
    by_eid = {r["transaction_eid"]: r for r in rows}
    assert (by_eid["perm"]["status"], by_eid["perm"]["is_temp"]) == ("active", False)
    assert (by_eid["temp"]["status"], by_eid["temp"]["is_temp"]) == ("temporary", True)
    status = finished(api, export_id(api))
    header, exported = download(api, status["result"]["urls"][0])
    assert header == [*GUIDE_FIELDS, "status", "is_temp", "profile_id", "points_currency_eid"]
    row = next(r for r in exported if r["transaction_eid"] == "perm")
    assert (row["status"], row["profile_id"], row["points_currency_eid"]) == (
        "active",
        "p-1",
        "stars",
    )
    assert row["is_temp"].lower() == "false"
    assert next(r for r in exported if r["transaction_eid"] == "temp")["status"] == "temporary"


# ---------------------------------------------------------------- a currency where required
@pytest.mark.parametrize("omitted", ["program_default", "refuse"])
def test_lists_exports_and_expiring_points_always_require_a_currency(
    api: Api, sandbox: SandboxHandle, omitted: str
) -> None:
    sandbox.configure(currency_when_omitted=omitted)
    answers = [
        api("loyalty/account/transactions", loyalty_program_id=1, **ANN),
        api("loyalty/account/expiring_points", loyalty_program_id=1, **WHOLE_PERIOD, **ANN),
        api("loyalty/transactions_export", loyalty_program_id=1, **WHOLE_PERIOD),
    ]
    for answer in answers:
        assert answer == {"error": 400, "error_text": CURRENCY_REQUIRED, "data": None}
    assert sandbox.ledger()["export_tasks"] == []
    # With a currency (iid or eid) each of them is answered.
    by_iid = api.ok(
        "loyalty/account/transactions", loyalty_program_id=1, points_currency_iid=2, **ANN
    )
    assert [r["amount"] for r in by_iid["data"]] == ["20"]
    assert [r["amount"] for r in listing(api)] == ["500"]
    assert expiring(api, *WHOLE_PERIOD.values())["error"] == 0
    assert start_export(api)["error"] == 0


def test_currency_omitted_uses_the_program_default_by_default(
    api: Api, sandbox: SandboxHandle
) -> None:
    assert api.balance() == {"total_balance": "500", "active_balance": "500"}
    redeemed = api.redeem("10")["data"]
    assert (redeemed["balance_before"], redeemed["balance_after"]) == ("500", "490")
    # The stars account (the program's default currency) was charged, miles untouched.
    assert control_tx(sandbox, redeemed["transaction_id"])["points_currency_eid"] == "stars"
    assert sandbox.balance(1, "p-1", "stars")["total_balance"] == 490
    assert sandbox.balance(1, "p-1", "miles")["total_balance"] == 20
    accrued = api.accrue("0.5")["data"]
    assert (accrued["balance_before"], accrued["balance_after"]) == ("490", "490.5")
    assert control_tx(sandbox, accrued["transaction_id"])["points_currency_eid"] == "stars"
    # A program with a single currency (no default flag) uses that one.
    program2 = api("loyalty/accrue_points", loyalty_program_id=2, amount="5", **ANN)
    assert program2["data"]["balance_after"] == "80"
    assert sandbox.balance(2, "p-1", "points")["total_balance"] == 80


def test_currency_when_omitted_refuse(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(currency_when_omitted="refuse")
    refused = {"error": 400, "error_text": CURRENCY_REQUIRED, "data": None}
    assert api("loyalty/account/balance", loyalty_program_id=1, **ANN) == refused
    assert api.redeem("10") == refused
    assert api.accrue("10") == refused
    assert api("loyalty/accrue_points", loyalty_program_id=2, amount="5", **ANN) == refused
    assert sandbox.balance(1, "p-1", "stars")["total_balance"] == 500  # nothing applied
    assert len(sandbox.ledger()["transactions"]) == 4
    # Named, the currency works as before (by eid or by iid).
    assert api.redeem("10", points_currency_eid="stars")["data"]["balance_after"] == "490"
    assert api.accrue("1", points_currency_iid=2)["data"]["balance_after"] == "21"
    assert api.balance({**ANN, "points_currency_eid": "stars"})["total_balance"] == "490"


# ---------------------------------------------------------------- date_only_periods
@pytest.mark.parametrize(
    ("bounds", "name"),
    [
        ({"date_from": "2099-03-01", "date_to": "2099-03-31T23:59:59Z"}, "date_from"),
        ({"date_from": "2099-03-01T00:00:00Z", "date_to": "2099-03-31"}, "date_to"),
    ],
)
def test_bare_dates_are_refused_by_default(
    api: Api, sandbox: SandboxHandle, bounds: dict[str, str], name: str
) -> None:
    refused = {
        "error": 400,
        "error_text": f'{name} must be an RFC3339 date-time, e.g. "2024-09-01T00:00:00Z"',
        "data": None,
    }
    assert expiring(api, **bounds) == refused
    assert start_export(api, **bounds) == refused
    assert sandbox.ledger()["export_tasks"] == []


def test_rfc3339_bounds_are_accepted_and_both_inclusive(api: Api, sandbox: SandboxHandle) -> None:
    for amount, expires in (
        ("1", "2099-03-01T00:00:00Z"),  # exactly date_from: in
        ("2", "2099-03-31T23:59:59Z"),  # exactly date_to: in
        ("4", "2099-04-01T00:00:00Z"),  # a second after date_to: out
        ("8", "2099-02-28T23:59:59Z"),  # a second before date_from: out
    ):
        api.accrue(amount, expiration_date=expires)
    answer = expiring(api, "2099-03-01T00:00:00Z", "2099-03-31T23:59:59Z")
    assert answer == {
        "error": 0,
        "error_text": "Successful operation",
        "data": {"expiring_points": "3"},
    }
    # The same instants written with offsets and fractions.
    shifted = expiring(api, "2099-03-01T03:00:00+03:00", "2099-03-31T18:59:59.000-05:00")
    assert shifted["data"] == {"expiring_points": "3"}
    narrower = expiring(api, "2099-03-01T00:00:01Z", "2099-03-31T23:59:59Z")
    assert narrower["data"] == {"expiring_points": "2"}
    # Export: created_at on each bound is in, a second outside is out.
    for eid, created in (
        ("in-from", "2030-01-01T00:00:00Z"),
        ("in-to", "2030-01-31T23:59:59Z"),
        ("out-before", "2029-12-31T23:59:59Z"),
        ("out-after", "2030-02-01T00:00:00Z"),
    ):
        api.accrue("1", transaction_eid=eid, created_at=created)
    sandbox.configure(export_delay_sec=0)
    task = export_id(api, date_from="2030-01-01T00:00:00Z", date_to="2030-01-31T23:59:59Z")
    status = finished(api, task)
    assert status["result"]["total"] == 2
    _, rows = download(api, status["result"]["urls"][0])
    assert [r["transaction_eid"] for r in rows] == ["in-from", "in-to"]
    reversed_period = expiring(api, "2099-03-31T00:00:00Z", "2099-03-01T00:00:00Z")
    assert (reversed_period["error"], reversed_period["error_text"]) == (
        400,
        "date_from must not be after date_to",
    )


def test_date_only_periods_accept_takes_whole_days(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(date_only_periods="accept", export_delay_sec=0)
    for amount, expires in (
        ("1", "2099-03-01T00:00:00Z"),
        ("2", "2099-03-31T23:59:59Z"),
        ("4", "2099-04-01T00:00:00Z"),
        ("8", "2099-02-28T23:59:59Z"),
    ):
        api.accrue(amount, expiration_date=expires)
    assert expiring(api, "2099-03-01", "2099-03-31")["data"] == {"expiring_points": "3"}
    assert expiring(api, "2099-03-31", "2099-03-31")["data"] == {"expiring_points": "2"}
    # RFC3339 date-times are still accepted, and may be mixed with dates.
    assert expiring(api, "2099-03-01T00:00:00Z", "2099-03-31")["data"] == {"expiring_points": "3"}
    bad = expiring(api, "March 1st", "2099-03-31")
    assert bad == {
        "error": 400,
        "error_text": "date_from must be a date (YYYY-MM-DD) or an RFC3339 date-time",
        "data": None,
    }
    for eid, created in (
        ("in-from", "2030-01-01T00:00:00Z"),
        ("in-to", "2030-01-31T23:59:59Z"),
        ("out-before", "2029-12-31T23:59:59Z"),
        ("out-after", "2030-02-01T00:00:00Z"),
    ):
        api.accrue("1", transaction_eid=eid, created_at=created)
    status = finished(api, export_id(api, date_from="2030-01-01", date_to="2030-01-31"))
    _, rows = download(api, status["result"]["urls"][0])
    assert [r["transaction_eid"] for r in rows] == ["in-from", "in-to"]


# ---------------------------------------------------------------- tasks/status and export_files
def test_completed_export_has_errors_array_urls_list_and_type(
    api: Api, sandbox: SandboxHandle
) -> None:
    sandbox.configure(export_delay_sec=0)
    task = export_id(api)
    status = finished(api, task)
    assert status == {
        "status": "completed",
        "progress": 100,
        "result": {
            "urls": [f"/api/download/{task}/transactions.csv"],
            "total": 2,
            "errors": [],
            "type": "export",
        },
    }
    header, rows = download(api, status["result"]["urls"][0])
    assert header == GUIDE_FIELDS and len(rows) == 2


def test_export_files_splits_into_that_many_files_each_with_the_header(
    api: Api, sandbox: SandboxHandle
) -> None:
    for i in range(5):
        api.accrue("1", transaction_eid=f"e{i}")
    sandbox.configure(export_delay_sec=0)
    single = finished(api, export_id(api))
    _, all_rows = download(api, single["result"]["urls"][0])
    assert single["result"]["total"] == len(all_rows) == 7
    sandbox.configure(export_files=3)
    task = export_id(api)
    status = finished(api, task)
    result = status["result"]
    assert result["total"] == 7 and result["errors"] == [] and result["type"] == "export"
    assert result["urls"] == [f"/api/download/{task}/transactions-{i}.csv" for i in (1, 2, 3)]
    seen: list[dict[str, str]] = []
    for url in result["urls"]:
        header, rows = download(api, url)
        assert header == GUIDE_FIELDS
        assert rows, f"{url} holds no row"
        seen += rows
    assert len(seen) == result["total"]
    # The files are consecutive parts of the single-file export, in order.
    assert [r["transaction_id"] for r in seen] == [r["transaction_id"] for r in all_rows]


@pytest.mark.parametrize("extra_rows", [1, 2, 3, 4])
def test_export_files_gives_that_many_urls_whenever_rows_suffice(
    api: Api, sandbox: SandboxHandle, extra_rows: int
) -> None:
    # The seed has two stars rows; totals 3..6 can each be split into 3 non-empty files.
    for i in range(extra_rows):
        api.accrue("1", transaction_eid=f"e{i}")
    sandbox.configure(export_delay_sec=0, export_files=3)
    result = finished(api, export_id(api))["result"]
    assert result["total"] == 2 + extra_rows
    assert len(result["urls"]) == 3, result["urls"]
    counts = [len(download(api, url)[1]) for url in result["urls"]]
    assert sum(counts) == result["total"] and min(counts) >= 1


def test_task_pending_status_default_processing(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(export_delay_sec=30)
    data = api.ok("tasks/status", task_id=export_id(api))["data"]
    assert data["status"] == "processing" and data["result"] is None
    assert 0 <= data["progress"] < 100
    sandbox.configure(export_delay_sec=0, export_mode="stuck")
    stuck = export_id(api)
    time.sleep(0.05)
    assert api.ok("tasks/status", task_id=stuck)["data"] == {
        "status": "processing",
        "progress": 0,
        "result": None,
    }


def test_task_pending_status_is_configurable(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(task_pending_status="queued", export_delay_sec=0.5)
    task = export_id(api)
    data = api.ok("tasks/status", task_id=task)["data"]
    assert data["status"] == "queued" and data["result"] is None
    assert data["status"] != "processing"
    done = finished(api, task)
    assert done["status"] == "completed" and done["result"]["errors"] == []
    sandbox.configure(export_mode="stuck")
    stuck = export_id(api)
    time.sleep(0.05)
    assert api.ok("tasks/status", task_id=stuck)["data"]["status"] == "queued"


# ---------------------------------------------------------------- commit_creates_transaction
def test_commit_of_temp_accrual_creates_a_new_transaction_by_default(
    api: Api, sandbox: SandboxHandle
) -> None:
    temp = api.accrue("50", is_temp=True, transaction_eid="c-1", created_at="2024-06-01T00:00:00Z")[
        "data"
    ]
    temp_id = temp["transaction_id"]
    assert (temp["balance_before"], temp["balance_after"]) == ("500", "500")
    before_commit = datetime.now(timezone.utc).replace(microsecond=0)
    committed = api.ok("loyalty/commit_transaction", transaction_id=temp_id)["data"]
    new_id = committed["transaction_id"]
    assert new_id != temp_id
    assert committed == {"transaction_id": new_id, "balance": "550"}
    assert api.balance() == {"total_balance": "550", "active_balance": "550"}
    rows = listing(api)
    assert [r["transaction_id"] for r in rows][1:] == [temp_id, new_id]  # the temp one stays
    old, new = rows[1], rows[2]
    assert old["transaction_eid"] == new["transaction_eid"] == "c-1"
    assert old["created_at"] == "2024-06-01T00:00:00Z"
    assert (new["transaction_type"], new["amount"]) == ("accrual", "50")
    assert (new["balance_before"], new["balance_after"]) == ("500", "550")
    created = parse_time(new["created_at"])  # created at commit time
    assert before_commit - timedelta(seconds=1) <= created <= datetime.now(timezone.utc)
    assert control_tx(sandbox, temp_id)["replaced_by"] == new_id
    assert control_tx(sandbox, new_id)["status"] == "active"
    # The replaced temporary one can be neither committed nor rolled back again.
    for action in ("commit", "rollback"):
        again = api(f"loyalty/{action}_transaction", transaction_id=temp_id)
        assert (again["error"], again["error_text"]) == (409, "Transaction is already committed")
    assert api.balance() == {"total_balance": "550", "active_balance": "550"}
    # Cancelling the temporary id cancels its replacement.
    cancelled = api.ok("loyalty/cancel_transaction", transaction_id=temp_id)["data"]
    assert cancelled["balance"] == "500"
    assert api.balance() == {"total_balance": "500", "active_balance": "500"}
    assert control_tx(sandbox, new_id)["status"] == "cancelled"
    twice = api("loyalty/cancel_transaction", transaction_id=temp_id)
    assert (twice["error"], twice["error_text"]) == (409, "Transaction is already cancelled")
    assert api.balance() == {"total_balance": "500", "active_balance": "500"}


def test_unpublished_fields_show_a_replaced_temp_accrual_as_committed(
    api: Api, sandbox: SandboxHandle
) -> None:
    sandbox.configure(unpublished_fields=True)
    temp_id = api.accrue("50", is_temp=True, transaction_eid="c-1")["data"]["transaction_id"]
    new_id = api.ok("loyalty/commit_transaction", transaction_eid="c-1")["data"]["transaction_id"]
    by_id = {r["transaction_id"]: r for r in listing(api)}
    assert (by_id[temp_id]["status"], by_id[temp_id]["is_temp"]) == ("committed", True)
    assert (by_id[new_id]["status"], by_id[new_id]["is_temp"]) == ("active", False)


def test_commit_of_temp_redeem_keeps_its_id_by_default(api: Api, sandbox: SandboxHandle) -> None:
    temp_id = api.redeem("100", is_temp=True, transaction_eid="r-1")["data"]["transaction_id"]
    committed = api.ok("loyalty/commit_transaction", transaction_id=temp_id)["data"]
    assert committed == {"transaction_id": temp_id, "balance": "400"}
    assert [r["transaction_id"] for r in listing(api) if r["transaction_eid"] == "r-1"] == [temp_id]
    assert control_tx(sandbox, temp_id)["status"] == "committed"
    assert api.balance() == {"total_balance": "400", "active_balance": "400"}


def test_commit_creates_transaction_always(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(commit_creates_transaction="always")
    temp_id = api.redeem("100", is_temp=True, transaction_eid="r-1")["data"]["transaction_id"]
    committed = api.ok("loyalty/commit_transaction", transaction_id=temp_id)["data"]
    new_id = committed["transaction_id"]
    assert new_id != temp_id and committed["balance"] == "400"
    assert api.balance() == {"total_balance": "400", "active_balance": "400"}
    rows = [r for r in listing(api) if r["transaction_eid"] == "r-1"]
    assert [r["transaction_id"] for r in rows] == [temp_id, new_id]
    assert (rows[1]["transaction_type"], rows[1]["amount"]) == ("redeem", "100")
    again = api("loyalty/commit_transaction", transaction_id=temp_id)
    assert (again["error"], again["error_text"]) == (409, "Transaction is already committed")
    api.ok("loyalty/cancel_transaction", transaction_id=temp_id)
    assert control_tx(sandbox, new_id)["status"] == "cancelled"
    assert api.balance() == {"total_balance": "500", "active_balance": "500"}
    # Accruals too.
    accrual = api.accrue("50", is_temp=True)["data"]["transaction_id"]
    assert api.ok("loyalty/commit_transaction", transaction_id=accrual)["data"][
        "transaction_id"
    ] not in (accrual, temp_id, new_id)
    assert api.balance() == {"total_balance": "550", "active_balance": "550"}


def test_commit_creates_transaction_never(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(commit_creates_transaction="never")
    temp_id = api.accrue("50", is_temp=True, transaction_eid="c-1")["data"]["transaction_id"]
    committed = api.ok("loyalty/commit_transaction", transaction_id=temp_id)["data"]
    assert committed == {"transaction_id": temp_id, "balance": "550"}
    rows = listing(api)
    assert [r["transaction_id"] for r in rows][1:] == [temp_id]  # committed in place
    assert control_tx(sandbox, temp_id)["status"] == "committed"
    assert api.balance() == {"total_balance": "550", "active_balance": "550"}
    again = api("loyalty/commit_transaction", transaction_id=temp_id)
    assert (again["error"], again["error_text"]) == (409, "Transaction is already committed")
    api.ok("loyalty/cancel_transaction", transaction_id=temp_id)
    assert api.balance() == {"total_balance": "500", "active_balance": "500"}
    redeem = api.redeem("100", is_temp=True)["data"]["transaction_id"]
    assert api.ok("loyalty/commit_transaction", transaction_id=redeem)["data"] == {
        "transaction_id": redeem,
        "balance": "400",
    }


# ---------------------------------------------------------------- tiers
TIERS_SEED = {
    "programs": [
        {
            "id": 1,
            "currencies": [{"iid": 1, "eid": "stars"}],
            "tiers_groups": [
                {
                    "id": 3,
                    "type": "status",
                    "tiers": [  # listed out of order: tier_order decides
                        {"tier_id": 31, "tier_eid": "gold", "tier_order": 30},
                        {"tier_id": 11, "tier_eid": "bronze", "tier_order": 10},
                        {"tier_id": 21, "tier_eid": "silver", "tier_order": 20},
                    ],
                }
            ],
        }
    ],
    "profiles": [
        {"profile_id": "top", "email": "Top.Member@Example.com"},
        {"profile_id": "mid"},
    ],
    "members": [
        {
            "program_id": 1,
            "profile_id": "top",
            "registration_date": "2024-01-01T00:00:00Z",
            "tiers": {"3": {"tier_eid": "gold", "reached_at": "2024-05-01T00:00:00Z"}},
        },
        {
            "program_id": 1,
            "profile_id": "mid",
            "registration_date": "2024-01-01T00:00:00Z",
            "tiers": {"3": "silver"},
        },
    ],
}


def tiers(api: Api, who: dict[str, Any], group: int = 7) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = api.ok(
        "loyalty/account/tiers", loyalty_program_id=1, tiers_group_id=group, **who
    )["data"]
    return data


def test_tiers_reached_lists_every_tier_so_far_from_order_0(api: Api) -> None:
    assert tiers(api, BOB) == [
        {
            "tiers_group_type": "status",
            "tier_eid": "silver",
            "tier_id": 1,
            "tier_order": 0,
            "reached_at": "2024-05-01T00:00:00Z",
        },
        {
            "tiers_group_type": "status",
            "tier_eid": "gold",
            "tier_id": 2,
            "tier_order": 1,
            "reached_at": "2024-05-01T00:00:00Z",
        },
    ]
    assert [(t["tier_eid"], t["tier_order"]) for t in tiers(api, ANN)] == [("silver", 0)]


def test_tiers_orders_0_to_n_follow_tier_order(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.load_seed(TIERS_SEED)
    top = {"matching": "profile_id", "profile_id": "top"}
    mid = {"matching": "profile_id", "profile_id": "mid"}
    assert [(t["tier_eid"], t["tier_id"], t["tier_order"]) for t in tiers(api, top, 3)] == [
        ("bronze", 11, 0),
        ("silver", 21, 1),
        ("gold", 31, 2),
    ]
    assert [(t["tier_eid"], t["tier_order"]) for t in tiers(api, mid, 3)] == [
        ("bronze", 0),
        ("silver", 1),
    ]
    sandbox.configure(tiers="current")
    assert [(t["tier_eid"], t["tier_order"]) for t in tiers(api, top, 3)] == [("gold", 2)]
    assert [(t["tier_eid"], t["tier_order"]) for t in tiers(api, mid, 3)] == [("silver", 1)]


def test_tiers_current_lists_only_the_current_tier(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(tiers="current")
    assert tiers(api, BOB) == [
        {
            "tiers_group_type": "status",
            "tier_eid": "gold",
            "tier_id": 2,
            "tier_order": 1,
            "reached_at": "2024-05-01T00:00:00Z",
        }
    ]
    assert [(t["tier_eid"], t["tier_order"]) for t in tiers(api, ANN)] == [("silver", 0)]
    p3 = {"matching": "profile_id", "profile_id": "p-3"}
    assert tiers(api, p3) == []


# ---------------------------------------------------------------- email_matching
def test_email_matching_case_insensitive_by_default(api: Api, sandbox: SandboxHandle) -> None:
    shouting = {"matching": "email", "email": "ANN@Example.COM"}
    assert api.balance(shouting) == {"total_balance": "500", "active_balance": "500"}
    assert api.redeem("10", shouting)["data"]["balance_after"] == "490"
    sandbox.load_seed(TIERS_SEED)
    lower = {"matching": "email", "email": "top.member@example.com"}
    assert api.balance(lower)["total_balance"] == "0"


def test_email_matching_exact(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(email_matching="exact")
    not_found = {"error": 404, "error_text": "Profile not found", "data": None}
    shouting = {"matching": "email", "email": "ANN@Example.COM"}
    assert api("loyalty/account/balance", loyalty_program_id=1, **shouting) == not_found
    assert api.redeem("10", shouting) == not_found
    assert api("loyalty/register_member", loyalty_program_id=1, **shouting) == not_found
    assert api.balance(ANN) == {"total_balance": "500", "active_balance": "500"}
    # A seed e-mail with capitals is found exactly as written, and only so.
    sandbox.load_seed(TIERS_SEED)
    sandbox.configure(email_matching="exact")
    written = {"matching": "email", "email": "Top.Member@Example.com"}
    assert api.balance(written)["total_balance"] == "0"
    lower = {"matching": "email", "email": "top.member@example.com"}
    assert api("loyalty/account/balance", loyalty_program_id=1, **lower) == not_found


# ---------------------------------------------------------------- auth_header
def test_auth_header_accepted_by_default(api: Api) -> None:
    body = {"loyalty_program_id": 1, **ANN}
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    by_header = api.raw("loyalty/account/balance", body, headers=bearer)
    assert by_header.status_code == 200 and by_header.json()["error"] == 0
    by_body = api.raw("loyalty/account/balance", {**body, "token": TOKEN})
    assert by_body.json()["data"] == {"total_balance": "500", "active_balance": "500"}
    # A right header wins over a wrong body token; a wrong bearer is refused.
    mixed = api.raw("loyalty/account/balance", {**body, "token": "wrong"}, headers=bearer)
    assert mixed.json()["error"] == 0
    wrong = api.raw("loyalty/account/balance", body, headers={"Authorization": "Bearer nope"})
    assert wrong.json() == UNAUTHORIZED


def test_auth_header_refuse_reads_the_body_token_only(api: Api, sandbox: SandboxHandle) -> None:
    sandbox.configure(auth_header="refuse")
    body = {"loyalty_program_id": 1, **ANN}
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    by_header = api.raw("loyalty/account/balance", body, headers=bearer)
    assert by_header.status_code == 200 and by_header.json() == UNAUTHORIZED
    by_body = api.raw("loyalty/account/balance", {**body, "token": TOKEN})
    assert by_body.json()["data"] == {"total_balance": "500", "active_balance": "500"}
    both = api.raw("loyalty/account/balance", {**body, "token": TOKEN}, headers=bearer)
    assert both.json()["error"] == 0
    mixed = api.raw("loyalty/account/balance", {**body, "token": "wrong"}, headers=bearer)
    assert mixed.json() == UNAUTHORIZED
    # Nothing was applied by a header-only redeem.
    redeem = api.raw("loyalty/redeeme_points", {**body, "amount": "10"}, headers=bearer)
    assert redeem.json() == UNAUTHORIZED
    assert sandbox.balance(1, "p-1", "stars")["total_balance"] == 500
    sandbox.configure(app_error_http_status="mapped")
    assert api.raw("loyalty/account/balance", body, headers=bearer).status_code == 401
