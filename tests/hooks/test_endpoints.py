"""Every endpoint of the loyalty API through its AltcraftHook method, against the sandbox.

Each test checks what a caller relies on: the typed result and the sandbox ledger afterwards.
"""

from __future__ import annotations

import csv
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from airflow_provider_altcraft.exceptions import AltcraftApiError, AltcraftValidationError
from airflow_provider_altcraft.hooks.altcraft import (
    CONNECTION_OK_SANDBOX,
    SANDBOX_HEADER_NAME,
    AltcraftHook,
)
from airflow_provider_altcraft.models import (
    AccountTransaction,
    Matching,
    ProfileTier,
    TaskStatus,
    TransactionResult,
)
from airflow_provider_altcraft.sandbox import SANDBOX_HEADER, SandboxHandle
from airflow_provider_altcraft.sandbox.ledger import PUBLISHED_FIELDS
from tests.hooks.conftest import (
    ACCOUNT_TRANSACTIONS,
    ANN,
    BOB,
    CID,
    PROGRAM,
    MakeHook,
    api_calls,
)

UTC = timezone.utc


def now_whole_seconds() -> datetime:
    """The sandbox stores whole seconds, so compare with a moment that has none."""
    return datetime.now(UTC).replace(microsecond=0)


# -- redeem / accrue --------------------------------------------------------------------------


def test_redeem_records_the_transaction_and_returns_balances(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    result = hook.redeem_points(
        loyalty_program_id=PROGRAM,
        amount="100.50",
        matching=ANN,
        points_currency_eid="stars",
        promotion_id="PROMO10",
        created_at="2025-03-01T09:00:00+02:00",
        transaction_eid="order-1",
        external_data={"order_id": "1"},
    )

    assert result.balance_before == Decimal("500.00")
    assert result.balance_after == Decimal("399.50")
    assert (result.transaction_eid, result.already_existed) == ("order-1", False)
    [row] = sandbox.transactions(transaction_eid="order-1")
    assert row["transaction_id"] == result.transaction_id
    assert row["transaction_type"] == "redeem"
    assert row["amount"] == "100.50"
    assert (row["profile_id"], row["points_currency_eid"], row["status"]) == (
        "p-1",
        "stars",
        "active",
    )
    assert (row["promo_iid"], row["promo_eid"]) == (10, "PROMO10")
    assert row["created_at"] == "2025-03-01T07:00:00Z"
    assert row["external_data"] == {"order_id": "1"}
    assert sandbox.balance(PROGRAM, "p-1", "stars")["total_balance"] == Decimal("399.50")


def test_accrue_with_future_activation_counts_in_total_but_not_active(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    activation = now_whole_seconds() + timedelta(days=10)
    expiration = activation + timedelta(days=30)

    result = hook.accrue_points(
        loyalty_program_id=PROGRAM,
        amount="25.00",
        matching=ANN,
        points_currency_iid=1,
        transaction_eid="bonus-1",
        activation_date=activation,
        expiration_date=expiration.isoformat(),
    )

    # Not active yet, so the active balance around the accrual does not move.
    assert result.balance_before == result.balance_after == Decimal("500.00")
    [row] = sandbox.transactions(transaction_eid="bonus-1")
    assert (row["transaction_type"], row["amount"]) == ("accrual", "25.00")
    assert row["activation_date"] == activation.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row["expiration_date"] == expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
    balance = sandbox.balance(PROGRAM, "p-1", "stars")
    assert (balance["total_balance"], balance["active_balance"]) == (
        Decimal("525.00"),
        Decimal("500.00"),
    )


def test_accrue_active_now_raises_the_active_balance(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    result = hook.accrue_points(
        loyalty_program_id=PROGRAM,
        amount=40,
        matching=BOB,
        activation_date=now_whole_seconds() - timedelta(days=1),
        expiration_date=now_whole_seconds() + timedelta(days=1),
    )

    assert (result.balance_before, result.balance_after) == (Decimal("120.50"), Decimal("160.50"))
    assert sandbox.balance(PROGRAM, "p-2", "stars")["active_balance"] == Decimal("160.50")


# -- commit / rollback / cancel ---------------------------------------------------------------


def hold(hook: AltcraftHook, eid: str, amount: str = "100.00") -> str:
    """A temporary redemption from p-1; returns its transaction_id."""
    return hook.redeem_points(
        loyalty_program_id=PROGRAM,
        amount=amount,
        matching=ANN,
        is_temp=True,
        temp_timeout_sec=600,
        transaction_eid=eid,
    ).transaction_id


def test_commit_settles_a_temporary_redemption(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    transaction_id = hold(hook, "hold-1")
    held = sandbox.balance(PROGRAM, "p-1", "stars")
    assert (held["total_balance"], held["active_balance"]) == (Decimal("500.00"), Decimal("400.00"))

    result = hook.commit_transaction(transaction_id=transaction_id)

    assert result == TransactionResult(transaction_id, Decimal("400.00"))
    [row] = sandbox.transactions(transaction_id=transaction_id)
    assert row["status"] == "committed"
    assert sandbox.balance(PROGRAM, "p-1", "stars")["total_balance"] == Decimal("400.00")


def test_rollback_by_eid_releases_the_hold(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    transaction_id = hold(hook, "hold-2")

    result = hook.rollback_transaction(transaction_eid="hold-2")

    assert result == TransactionResult(transaction_id, Decimal("500.00"))
    assert sandbox.transactions(transaction_id=transaction_id)[0]["status"] == "rolled_back"
    assert sandbox.balance(PROGRAM, "p-1", "stars")["active_balance"] == Decimal("500.00")


def test_cancel_reverses_a_permanent_accrual(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    accrual = hook.accrue_points(loyalty_program_id=PROGRAM, amount="50.00", matching=ANN)

    result = hook.cancel_transaction(transaction_id=accrual.transaction_id)

    assert result == TransactionResult(accrual.transaction_id, Decimal("500.00"))
    assert sandbox.transactions(transaction_id=accrual.transaction_id)[0]["status"] == "cancelled"
    assert sandbox.balance(PROGRAM, "p-1", "stars")["total_balance"] == Decimal("500.00")


def test_commit_of_a_committed_transaction_is_refused(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    transaction_id = hold(hook, "hold-3")
    hook.commit_transaction(transaction_eid="hold-3")

    with pytest.raises(AltcraftApiError) as caught:
        hook.commit_transaction(transaction_id=transaction_id)

    assert (caught.value.error_code, caught.value.error_text) == (
        409,
        "Transaction is already committed",
    )
    assert sandbox.balance(PROGRAM, "p-1", "stars")["total_balance"] == Decimal("400.00")


def test_transaction_action_without_any_reference_is_refused_before_sending(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    with pytest.raises(AltcraftValidationError) as caught:
        hook.cancel_transaction()

    assert caught.value.parameter == "transaction_id"
    assert "transaction_eid" in str(caught.value)
    assert sandbox.requests() == []


# -- account reads ----------------------------------------------------------------------------


def test_balance_per_currency_and_program(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    stars = hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)
    miles = hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN, points_currency_iid=2)
    points = hook.get_balance(loyalty_program_id=2, matching=ANN, points_currency_eid="points")
    nothing = hook.get_balance(loyalty_program_id=PROGRAM, matching=CID)

    assert (stars.total_balance, stars.active_balance) == (Decimal("500.00"), Decimal("500.00"))
    assert miles.total_balance == Decimal("20.00")
    assert points.total_balance == Decimal("75.00")
    assert (nothing.total_balance, nothing.active_balance) == (Decimal("0.00"), Decimal("0.00"))
    for balance in (stars, miles, points, nothing):
        assert type(balance.total_balance) is Decimal and type(balance.active_balance) is Decimal


def test_account_transactions_page_has_the_ledger_fields(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    redeemed = hook.redeem_points(
        loyalty_program_id=PROGRAM, amount="0.50", matching=ANN, transaction_eid="coffee"
    )

    page = hook.get_account_transactions(loyalty_program_id=PROGRAM, matching=ANN, limit=5)

    assert [t.transaction_type for t in page] == ["accrual", "redeem"]
    opening, coffee = page
    assert opening.amount == Decimal("500.00")
    assert (opening.source_type, opening.description) == ("seed", "opening balance")
    assert opening.created_at == datetime(2024, 1, 15, 10, tzinfo=UTC)
    assert coffee.transaction_id == redeemed.transaction_id
    # Only the guide's published fields: no state (the sandbox adds one on request).
    assert (coffee.transaction_eid, coffee.amount, coffee.status) == (
        "coffee",
        Decimal("0.5"),
        None,
    )
    assert set(coffee.extra) == set()
    assert (coffee.balance_before, coffee.balance_after) == (Decimal("500.00"), Decimal("499.50"))


def make_transactions(hook: AltcraftHook, count: int) -> list[str]:
    """``count`` accruals to p-3 (eids bulk-0 ...); returns their ids in creation order."""
    return [
        hook.accrue_points(
            loyalty_program_id=PROGRAM, amount=1, matching=CID, transaction_eid=f"bulk-{i}"
        ).transaction_id
        for i in range(count)
    ]


def test_iter_account_transactions_pages_through_more_than_100(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    created = make_transactions(hook, 105)
    sandbox.clear_requests()

    every = list(hook.iter_account_transactions(loyalty_program_id=PROGRAM, matching=CID))

    assert [t.transaction_id for t in every] == created
    assert len(api_calls(sandbox, ACCOUNT_TRANSACTIONS)) == 2  # 100 + 5

    sandbox.clear_requests()
    after = list(
        hook.iter_account_transactions(
            loyalty_program_id=PROGRAM, matching=CID, from_id=created[49], page_size=20
        )
    )

    assert [t.transaction_id for t in after] == created[50:]
    assert len(api_calls(sandbox, ACCOUNT_TRANSACTIONS)) == 3  # 20 + 20 + 15

    found = hook.find_transaction_by_eid(
        loyalty_program_id=PROGRAM, matching=CID, transaction_eid="bulk-103"
    )
    assert isinstance(found, AccountTransaction)
    assert (found.transaction_id, found.amount) == (created[103], Decimal("1.00"))
    missing = hook.find_transaction_by_eid(
        loyalty_program_id=PROGRAM, matching=CID, transaction_eid="bulk-999"
    )
    assert missing is None


def test_expiring_points_sums_accruals_expiring_in_the_period(
    hook: AltcraftHook, sandbox: SandboxHandle, make_hook: MakeHook
) -> None:
    for amount, expires in (("12.00", "2030-06-15T12:00:00Z"), ("8.25", "2030-07-20T00:00:00Z")):
        hook.accrue_points(
            loyalty_program_id=PROGRAM, amount=amount, matching=ANN, expiration_date=expires
        )

    def expiring(date_from: object, date_to: object) -> Decimal:
        return hook.get_expiring_points(
            loyalty_program_id=PROGRAM,
            matching=ANN,
            points_currency_eid="stars",
            date_from=date_from,  # type: ignore[arg-type]
            date_to=date_to,  # type: ignore[arg-type]
        )

    assert expiring(date(2030, 6, 1), "2030-06-30") == Decimal("12.00")
    assert expiring("2030-06-15", date(2030, 7, 20)) == Decimal("20.25")
    assert expiring("2031-01-01", "2031-12-31") == Decimal("0")
    sent = len(api_calls(sandbox, "loyalty/account/expiring_points"))
    without_default = make_hook("altcraft_no_currency", default_points_currency_eid=None)
    with pytest.raises(AltcraftValidationError, match="default_points_currency_eid"):
        without_default.get_expiring_points(
            loyalty_program_id=PROGRAM, matching=ANN, date_from="2030-01-01", date_to="2030-12-31"
        )
    assert len(api_calls(sandbox, "loyalty/account/expiring_points")) == sent  # none sent


def test_profile_tiers(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    def tiers(matching: Matching) -> list[ProfileTier]:
        return hook.get_profile_tiers(
            loyalty_program_id=PROGRAM, tiers_group_id=7, matching=matching
        )

    # Every tier reached so far, tier_order from 0 (the guide's example lists two).
    [silver] = tiers(ANN)
    silver_too, gold = tiers(BOB)

    assert (silver.tiers_group_type, silver.tier_eid, silver.tier_id, silver.tier_order) == (
        "status",
        "silver",
        1,
        0,
    )
    assert (silver_too.tier_eid, silver_too.tier_order) == ("silver", 0)
    assert silver.reached_at == datetime(2024, 1, 15, 10, tzinfo=UTC)
    assert (gold.tier_eid, gold.tier_order) == ("gold", 1)
    assert gold.reached_at == datetime(2024, 5, 1, tzinfo=UTC)
    assert tiers(CID) == []


# -- program reads ----------------------------------------------------------------------------


def test_trigger_promotions_page(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    page = hook.get_trigger_promotions(loyalty_program_id=PROGRAM, limit=1)

    [welcome] = page.promotions
    assert (page.next_from_id, page.total_count) == (10, 2)
    assert (welcome.id, welcome.name, welcome.external_id, welcome.is_active) == (
        10,
        "Welcome bonus",
        "PROMO10",
        True,
    )
    assert welcome.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert welcome.accrual_rules == [{"type": "fixed", "amount": "100.00"}]


def test_iter_trigger_promotions_follows_next_from_id(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    every = list(hook.iter_trigger_promotions(loyalty_program_id=PROGRAM, page_size=1))
    active = list(
        hook.iter_trigger_promotions(loyalty_program_id=PROGRAM, is_active=True, page_size=1)
    )

    assert [p.id for p in every] == [10, 11]
    assert [p.id for p in active] == [10]
    assert len(api_calls(sandbox, "loyalty/trigger_promotions")) == 3  # 2 pages + 1 page


# -- members ----------------------------------------------------------------------------------


def members_of(sandbox: SandboxHandle, program_id: int) -> dict[str, str]:
    """profile_id -> registration_date of the program's members, from the ledger."""
    return {
        m["profile_id"]: m["registration_date"]
        for m in sandbox.ledger()["members"]
        if m["program_id"] == program_id
    }


def test_register_then_remove_member(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    dee = Matching.by_email("dee@example.com")

    registered = hook.register_member(
        loyalty_program_id=PROGRAM, matching=dee, registration_date="2025-05-05T05:05:05Z"
    )

    assert registered == "p-4"
    assert members_of(sandbox, PROGRAM)["p-4"] == "2025-05-05T05:05:05Z"
    assert hook.get_balance(loyalty_program_id=PROGRAM, matching=dee).total_balance == 0

    removed = hook.remove_member(loyalty_program_id=PROGRAM, matching=dee)

    assert removed == "p-4"
    assert "p-4" not in members_of(sandbox, PROGRAM)
    with pytest.raises(AltcraftApiError, match="Member not found"):
        hook.get_balance(loyalty_program_id=PROGRAM, matching=dee)


# -- export -----------------------------------------------------------------------------------


def wait_until_done(hook: AltcraftHook, task_id: str) -> TaskStatus:
    deadline = time.monotonic() + 10
    while True:
        status = hook.get_task_status(task_id)
        if status.is_completed or status.is_failed or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_transactions_export_downloads_the_ledger_rows_of_the_period(
    hook: AltcraftHook, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    def accrue(matching: Matching, created_at: str, **currency: object) -> str:
        return hook.accrue_points(
            loyalty_program_id=PROGRAM,
            amount="3.30",
            matching=matching,
            created_at=created_at,
            **currency,  # type: ignore[arg-type]
        ).transaction_id

    inside = [accrue(ANN, "2025-01-01T00:00:00Z"), accrue(BOB, "2025-01-31T23:59:59Z")]
    inside.append(
        hook.redeem_points(
            loyalty_program_id=PROGRAM,
            amount="1.10",
            matching=ANN,
            created_at="2025-01-10T08:00:00Z",
            transaction_eid="jan-redeem",
        ).transaction_id
    )
    accrue(ANN, "2025-02-01T00:00:00Z")  # after the period
    accrue(ANN, "2025-01-15T00:00:00Z", points_currency_eid="miles")  # another currency
    accrue(ANN, now_whole_seconds().isoformat())  # today

    task_id = hook.start_transactions_export(
        loyalty_program_id=PROGRAM,
        points_currency_eid="stars",
        date_from="2025-01-01",
        date_to=date(2025, 1, 31),
    )
    status = wait_until_done(hook, task_id)

    assert status.is_completed, status
    # Altcraft reads date_to as inclusive: the row at exactly 2025-02-01T00:00:00Z is in the
    # file too (the export operator drops it: tests/export).
    assert (status.task_id, status.total, status.errors) == (task_id, 4, [])
    [url] = status.urls
    destination = tmp_path / "transactions.csv"
    size = hook.download_file(url, destination)

    assert [p.name for p in tmp_path.iterdir()] == ["transactions.csv"]  # no .part left
    assert size == destination.stat().st_size
    with destination.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ledger = {t["transaction_id"]: t for t in sandbox.transactions(program_id=PROGRAM)}
    assert [row["transaction_id"] for row in rows][:-1] == inside
    assert rows[-1]["created_at"] == "2025-02-01T00:00:00Z"
    # The strict sandbox exports the published fields only, amounts unpadded.
    assert list(rows[0]) == list(PUBLISHED_FIELDS)
    for row in rows:
        expected = ledger[row["transaction_id"]]
        for column, value in row.items():
            if column in ("amount", "balance_before", "balance_after"):
                assert Decimal(value) == Decimal(expected[column]), column
            else:
                assert value == ("" if expected[column] is None else str(expected[column])), column


def test_failed_download_leaves_no_file(
    hook: AltcraftHook, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    task_id = hook.start_transactions_export(
        loyalty_program_id=PROGRAM,
        points_currency_eid="stars",
        date_from="2024-01-01",
        date_to="2024-12-31",
    )
    [url] = wait_until_done(hook, task_id).urls
    sandbox.set_faults([{"kind": "http_500", "methods": ["download"]}])

    with pytest.raises(AltcraftApiError) as caught:
        hook.download_file(url, tmp_path / "transactions.csv")

    assert (caught.value.endpoint, caught.value.http_status) == ("download", 500)
    assert list(tmp_path.iterdir()) == []


# -- test_connection --------------------------------------------------------------------------


def test_connection_ok(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    ok, message = hook.test_connection()

    assert ok, message
    # The sandbox says what it is (its header), so the test warns it is not Altcraft.
    assert message == CONNECTION_OK_SANDBOX
    assert SANDBOX_HEADER[0] == SANDBOX_HEADER_NAME
    # Its own token accepted (the task is unknown), a made-up one refused.
    assert [entry["error"] for entry in api_calls(sandbox, "tasks/status")] == [404, 401]


def test_connection_with_a_wrong_token(make_hook: MakeHook, sandbox: SandboxHandle) -> None:
    hook = make_hook("altcraft_wrong_token", token="not-the-token-at-all")

    ok, message = hook.test_connection()

    assert not ok
    assert "401" in message and "API token" in message
    assert "altcraft_wrong_token" in message


def test_connection_to_a_url_that_is_not_the_api(
    make_hook: MakeHook, sandbox: SandboxHandle
) -> None:
    # The sandbox answers 404 to any path outside /api/, whatever the token: so would a
    # host with a wrong path in front of the real API.
    hook = make_hook("altcraft_wrong_path", url=f"{sandbox.url}/not-the-api")

    ok, message = hook.test_connection()

    assert not ok
    assert message.startswith(f"{sandbox.url}/not-the-api answered without checking the API token")
