"""What the public Altcraft guide says, followed by the hook against the strict sandbox.

Each test names the fact it checks; the sandbox runs with its default (strict) options unless
a test switches one to show the variant the guide leaves open.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
import pytest
import requests

from airflow_provider_altcraft.exceptions import (
    AltcraftApiError,
    AltcraftAuthError,
    AltcraftEidSettledError,
    AltcraftValidationError,
)
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import PointsRequest, TaskStatus
from airflow_provider_altcraft.operators.export import download_export
from airflow_provider_altcraft.periods import Period
from airflow_provider_altcraft.sandbox import SandboxHandle
from airflow_provider_altcraft.triggers.altcraft import task_event
from tests.conftest import TOKEN
from tests.export.ledger import add_transaction, csv_rows
from tests.hooks.conftest import ACCOUNT_TRANSACTIONS, ACCRUE, ANN, PROGRAM, MakeHook, api_calls

UTC = timezone.utc
EXPORT = "loyalty/transactions_export"


def _finished(hook: AltcraftHook, task_id: str) -> TaskStatus:
    deadline = time.time() + 10
    while not ((status := hook.get_task_status(task_id)).is_completed or status.is_failed):
        assert time.time() < deadline, "the sandbox export did not finish"
        time.sleep(0.05)
    return status


def _export(hook: AltcraftHook, period: Period, output: Path) -> dict[str, Any]:
    task_id = hook.start_transactions_export(
        loyalty_program_id=PROGRAM, points_currency_eid="stars", period=period
    )
    event = task_event(task_id, _finished(hook, task_id))
    written = download_export(hook, event, str(output), period, timeout=10)
    return {"rows": csv_rows(output), "dropped": written.dropped, "event": event}


# -- 1. period bounds are RFC3339 date-times, both inclusive ------------------------------------


def test_period_bounds_travel_as_rfc3339_date_times() -> None:
    day = Period.from_arguments("2024-09-01", "2024-09-01")
    interval = Period.from_data_interval(
        pendulum.datetime(2024, 9, 1, 6, tz="Europe/Berlin"),
        pendulum.datetime(2024, 9, 2, 6, tz="Europe/Berlin"),
    )

    assert day.to_json() == {"date_from": "2024-09-01T00:00:00Z", "date_to": "2024-09-02T00:00:00Z"}
    assert day.last_second_bounds()["date_to"] == "2024-09-01T23:59:59Z"
    assert interval.to_json() == {
        "date_from": "2024-09-01T04:00:00Z",
        "date_to": "2024-09-02T04:00:00Z",
    }
    assert isinstance(day.start, pendulum.DateTime)
    with pytest.raises(AltcraftValidationError, match="date_to"):
        Period.from_arguments("2024-09-02", "2024-09-01T12:00:00Z")


def test_the_strict_sandbox_refuses_a_bare_date_and_the_hook_never_sends_one(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    body = {"token": TOKEN, "loyalty_program_id": PROGRAM, "points_currency_eid": "stars"}
    refused = requests.post(
        f"{sandbox.url}/api/v1.1/{EXPORT}",
        json={**body, "date_from": "2024-09-01", "date_to": "2024-09-01"},
        timeout=5,
    ).json()
    assert (refused["error"], refused["error_text"]) == (
        400,
        'date_from must be an RFC3339 date-time, e.g. "2024-09-01T00:00:00Z"',
    )
    sandbox.clear_requests()
    task_id = hook.start_transactions_export(
        loyalty_program_id=PROGRAM, points_currency_eid="stars", date_from="2024-09-01",
        date_to="2024-09-01",
    )  # fmt: skip
    assert _finished(hook, task_id).is_completed
    assert [c["error"] for c in api_calls(sandbox, EXPORT)] == [0]


def test_consecutive_data_intervals_hold_every_transaction_exactly_once(
    hook: AltcraftHook, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    sandbox.configure(export_delay_sec=0)
    ids = {
        moment: add_transaction("accrue", "1.00", moment)
        for moment in (
            "2024-09-01T00:00:00Z",  # the first instant of day 1
            "2024-09-01T23:59:59Z",  # its last second
            "2024-09-02T00:00:00Z",  # exactly the boundary: day 2 only
            "2024-09-02T13:30:00Z",
            "2024-09-03T00:00:00Z",  # exactly the end of day 2: day 3
        )
    }
    day_1, day_2 = (
        Period.from_data_interval(
            pendulum.datetime(2024, 9, d, tz="UTC"), pendulum.datetime(2024, 9, d + 1, tz="UTC")
        )
        for d in (1, 2)
    )

    first = _export(hook, day_1, tmp_path / "d1.csv")
    second = _export(hook, day_2, tmp_path / "d2.csv")

    in_first = [row["transaction_id"] for row in first["rows"]]
    in_second = [row["transaction_id"] for row in second["rows"]]
    assert in_first == [ids["2024-09-01T00:00:00Z"], ids["2024-09-01T23:59:59Z"]]
    assert in_second == [ids["2024-09-02T00:00:00Z"], ids["2024-09-02T13:30:00Z"]]
    # Altcraft's inclusive date_to sent the boundary rows too; they were dropped.
    assert (first["dropped"], second["dropped"]) == (1, 1)


# -- 2. account/transactions requires a currency ------------------------------------------------


def test_an_eid_lookup_without_any_currency_fails_before_any_request(
    make_hook: MakeHook, sandbox: SandboxHandle
) -> None:
    hook = make_hook("altcraft_no_default", default_points_currency_eid=None)
    request = PointsRequest.build(
        "redeem", loyalty_program_id=PROGRAM, amount="1", matching=ANN, transaction_eid="e-1"
    )

    with pytest.raises(AltcraftValidationError, match="default_points_currency_eid"):
        hook.send_points_request_once(request, check_existing=True)
    with pytest.raises(AltcraftValidationError, match="points_currency_eid"):
        hook.find_transaction_by_eid(loyalty_program_id=PROGRAM, matching=ANN, transaction_eid="x")
    assert sandbox.requests() == []


def test_a_request_without_currency_sends_the_connections_default_everywhere(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    request = PointsRequest.build(
        "accrue", loyalty_program_id=PROGRAM, amount="2", matching=ANN, transaction_eid="e-2"
    )

    sent = hook.send_points_request_once(request, check_existing=True)

    [row] = sandbox.transactions(transaction_eid="e-2")
    assert (row["transaction_id"], row["points_currency_eid"]) == (sent.transaction_id, "stars")
    # The strict sandbox refuses a list without a currency: the lookup sent one.
    assert [c["error"] for c in api_calls(sandbox, ACCOUNT_TRANSACTIONS)] == [0]


# -- 3. committing a temporary accrual creates a new full transaction ---------------------------


def test_commit_of_a_temporary_accrual_reports_the_new_transaction(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    held = hook.accrue_points(
        loyalty_program_id=PROGRAM, amount="7.5", matching=ANN, is_temp=True,
        transaction_eid="temp-acc", points_currency_eid="stars",
    )  # fmt: skip

    committed = hook.commit_transaction(transaction_id=held.transaction_id)

    assert committed.transaction_id != held.transaction_id
    assert committed.balance == Decimal("507.5")
    both = hook.find_transactions_by_eid(
        loyalty_program_id=PROGRAM, matching=ANN, transaction_eid="temp-acc",
        points_currency_eid="stars",
    )  # fmt: skip
    assert [t.transaction_id for t in both] == [held.transaction_id, committed.transaction_id]
    holder = hook.find_transaction_by_eid(
        loyalty_program_id=PROGRAM, matching=ANN, transaction_eid="temp-acc",
        points_currency_eid="stars",
    )  # fmt: skip
    assert holder is not None and holder.transaction_id == committed.transaction_id
    # A retry of the accrual finds the eid and sends nothing: the points moved once.
    again = hook.send_points_request_once(
        PointsRequest.build(
            "accrue",
            loyalty_program_id=PROGRAM,
            amount="7.5",
            matching=ANN,
            is_temp=True,
            transaction_eid="temp-acc",
            points_currency_eid="stars",
        ),
        check_existing=True,
    )
    assert (again.transaction_id, again.already_existed) == (committed.transaction_id, True)
    assert len(api_calls(sandbox, ACCRUE)) == 1
    assert sandbox.balance(PROGRAM, "p-1", "stars")["active_balance"] == Decimal("507.5")
    # A retried commit by eid (its answer lost) is refused as already done, and counts as done,
    # although the eid now selects the new full transaction.
    retried = hook.commit_transaction(transaction_eid="temp-acc", retried=True)
    assert (retried.transaction_id, retried.balance) == (None, None)
    with pytest.raises(AltcraftApiError, match="already committed"):
        hook.commit_transaction(transaction_eid="temp-acc")


# -- 4. no transaction status field is published ------------------------------------------------


@pytest.mark.parametrize("state_reported", [False, True], ids=["no_state", "state"])
def test_a_found_eid_without_a_state_is_applied_not_resent_and_said_so(
    hook: AltcraftHook, sandbox: SandboxHandle, state_reported: bool
) -> None:
    sandbox.configure(unpublished_fields=state_reported)
    request = PointsRequest.build(
        "redeem", loyalty_program_id=PROGRAM, amount="3", matching=ANN, transaction_eid="e-4",
        points_currency_eid="stars", is_temp=True,
    )  # fmt: skip
    hook.send_points_request(request)
    hook.rollback_transaction(transaction_eid="e-4")

    if state_reported:
        with pytest.raises(AltcraftEidSettledError, match="rolled_back"):
            hook.send_points_request_once(request, check_existing=True)
    else:
        found = hook.send_points_request_once(request, check_existing=True)
        assert (found.already_existed, found.state_known) == (True, False)
        assert found.to_xcom()["state_known"] is False
    # Either way nothing is sent a second time.
    assert len(sandbox.transactions(transaction_eid="e-4")) == 1


# -- 5. tasks/status: errors array, several files, unknown pending value ------------------------


def test_an_export_of_several_files_is_assembled_and_checked_over_all(
    hook: AltcraftHook, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    sandbox.configure(export_delay_sec=0.2, export_files=3, task_pending_status="queued")
    for hour in range(7):
        add_transaction("accrue", f"1.{hour}", f"2024-09-01T0{hour}:00:00Z")
    period = Period.from_arguments("2024-09-01", "2024-09-01")
    task_id = hook.start_transactions_export(
        loyalty_program_id=PROGRAM, points_currency_eid="stars", period=period
    )
    pending = hook.get_task_status(task_id)
    assert (pending.status, pending.is_completed, pending.is_failed) == ("queued", False, False)

    status = _finished(hook, task_id)
    assert (len(status.urls), status.total, status.errors) == (3, 7, [])
    output = tmp_path / "all.csv"
    written = download_export(hook, task_event(task_id, status), str(output), period, timeout=10)

    assert written.rows == 7
    assert [Decimal(r["amount"]) for r in csv_rows(output)] == [Decimal(f"1.{h}") for h in range(7)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.csv"]  # no part files left
    with pytest.raises(Exception, match="hold 7 rows but Altcraft announced 8"):
        download_export(
            hook, {**task_event(task_id, status), "total": 8}, str(output), period, timeout=10
        )


def test_a_completed_task_with_errors_is_failed() -> None:
    status = TaskStatus.from_wire(
        "t", {"status": "completed", "result": {"errors": [{"row": 3}], "urls": []}}
    )
    legacy = TaskStatus.from_wire("t", {"status": "success", "result": {"errors": 0}})

    assert (status.is_completed, status.is_failed) == (False, True)
    assert "errors" in task_event("t", status)["message"]
    assert (legacy.is_completed, legacy.errors) == (True, [])


# -- 6. the token in the body works on old and new installations --------------------------------


def test_the_default_token_placement_works_where_the_header_is_refused(
    make_hook: MakeHook, sandbox: SandboxHandle
) -> None:
    sandbox.configure(auth_header="refuse")  # an installation that reads the body only
    default = make_hook("altcraft_body")
    header = make_hook("altcraft_header", auth_placement="header")

    assert default.get_balance(loyalty_program_id=PROGRAM, matching=ANN).active_balance == 500
    with pytest.raises(AltcraftAuthError):
        header.get_balance(loyalty_program_id=PROGRAM, matching=ANN)


# -- 8. amounts in answers at any precision ------------------------------------------------------


@pytest.mark.parametrize("amount_format", ["plain", "padded"])
def test_amounts_are_read_at_any_precision(
    hook: AltcraftHook, sandbox: SandboxHandle, amount_format: str
) -> None:
    sandbox.configure(amount_format=amount_format)
    result = hook.redeem_points(
        loyalty_program_id=PROGRAM, amount="0.10", matching=ANN, points_currency_eid="stars"
    )

    assert (result.balance_before, result.balance_after) == (Decimal(500), Decimal("499.9"))
    assert Decimal(str(result.to_xcom()["balance_after"])) == Decimal("499.9")
    when = datetime(2024, 1, 15, 10, tzinfo=UTC)
    [opening, _] = hook.get_account_transactions(
        loyalty_program_id=PROGRAM, matching=ANN, points_currency_eid="stars"
    )
    assert (opening.amount, opening.created_at) == (Decimal("500"), when)
