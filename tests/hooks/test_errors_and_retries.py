"""Error envelopes and the retry policy, with faults injected by the sandbox (real HTTP).

The rule under test: reads are retried; a redeem/accrue that may have reached Altcraft is never
sent again by the hook (``AltcraftOutcomeUnknownError``), and ``send_points_request_once``
turns that into exactly one transaction by looking the eid up.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from airflow_provider_altcraft.exceptions import (
    AltcraftApiError,
    AltcraftAuthError,
    AltcraftOutcomeUnknownError,
    AltcraftServerError,
    AltcraftTransportError,
)
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import Matching, PointsRequest
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.hooks.conftest import (
    ANN,
    BALANCE,
    PROGRAM,
    REDEEM,
    MakeHook,
    api_calls,
    closed_port_url,
)


def redeem_request(eid: str, amount: str = "10.00") -> PointsRequest:
    return PointsRequest.build(
        "redeem", loyalty_program_id=PROGRAM, amount=amount, matching=ANN, transaction_eid=eid
    )


def ann_stars(sandbox: SandboxHandle) -> Decimal:
    total: Decimal = sandbox.balance(PROGRAM, "p-1", "stars")["total_balance"]
    return total


def fault_kinds(sandbox: SandboxHandle, method: str) -> list[str | None]:
    return [entry["fault"] for entry in api_calls(sandbox, method)]


def wait_for_transactions(sandbox: SandboxHandle, eid: str, timeout: float = 5.0) -> int:
    """How many transactions carry ``eid`` once a late (delayed) request had time to land."""
    deadline = time.monotonic() + timeout
    while not sandbox.transactions(transaction_eid=eid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(sandbox.transactions(transaction_eid=eid))


# -- error envelopes --------------------------------------------------------------------------


@pytest.fixture(params=["200", "mapped"], ids=["http-200", "http-mapped"])
def app_error_status(request: pytest.FixtureRequest, sandbox: SandboxHandle) -> str:
    """Run the test with application errors sent as HTTP 200 and as HTTP <error code>."""
    mode: str = request.param
    sandbox.configure(app_error_http_status=mode)
    return mode


def expected_status(mode: str, code: int) -> int:
    return 200 if mode == "200" else code


def test_insufficient_points(
    hook: AltcraftHook, sandbox: SandboxHandle, app_error_status: str
) -> None:
    with pytest.raises(AltcraftApiError) as caught:
        hook.send_points_request(redeem_request("too-much", amount="500.01"))

    error = caught.value
    assert type(error) is AltcraftApiError
    assert (error.endpoint, error.http_status, error.error_code, error.error_text) == (
        REDEEM,
        expected_status(app_error_status, 409),
        409,
        "Insufficient points",
    )
    assert str(error).startswith(f"Altcraft {REDEEM} failed")
    assert "Insufficient points" in str(error)
    assert len(api_calls(sandbox, REDEEM)) == 1
    assert sandbox.transactions(transaction_eid="too-much") == []


def test_unknown_profile_on_a_read_is_not_retried(
    hook: AltcraftHook, sandbox: SandboxHandle, app_error_status: str
) -> None:
    with pytest.raises(AltcraftApiError) as caught:
        hook.get_balance(loyalty_program_id=PROGRAM, matching=Matching.by_email("zed@example.com"))

    error = caught.value
    assert type(error) is AltcraftApiError
    assert (error.endpoint, error.http_status, error.error_code, error.error_text) == (
        BALANCE,
        expected_status(app_error_status, 404),
        404,
        "Profile not found",
    )
    assert len(api_calls(sandbox, BALANCE)) == 1


def test_wrong_token_is_an_auth_error_naming_the_connection(
    make_hook: MakeHook, sandbox: SandboxHandle, app_error_status: str
) -> None:
    hook = make_hook("altcraft_bad_token", token="wrong-token-0000")

    with pytest.raises(AltcraftAuthError) as caught:
        hook.send_points_request(redeem_request("auth"))

    error = caught.value
    assert (error.endpoint, error.http_status, error.error_code, error.error_text) == (
        REDEEM,
        expected_status(app_error_status, 401),
        401,
        "API token required",
    )
    assert "'altcraft_bad_token'" in str(error) and "API token" in str(error)
    assert len(api_calls(sandbox, REDEEM)) == 1
    assert ann_stars(sandbox) == Decimal("500.00")


def test_send_once_does_not_swallow_a_refusal(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    with pytest.raises(AltcraftApiError, match="Insufficient points"):
        hook.send_points_request_once(redeem_request("once-too-much", amount="999.00"))

    assert len(api_calls(sandbox, REDEEM)) == 1
    assert sandbox.transactions(transaction_eid="once-too-much") == []


# -- 5xx and 429 ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http_500", "http_503"])
def test_read_is_retried_after_server_errors(
    hook: AltcraftHook, sandbox: SandboxHandle, kind: str
) -> None:
    sandbox.set_faults([{"kind": kind, "methods": [BALANCE], "max_count": 2}])

    balance = hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)

    assert balance.total_balance == Decimal("500.00")
    assert fault_kinds(sandbox, BALANCE) == [kind, kind, None]


def test_read_gives_up_after_max_retries(make_hook: MakeHook, sandbox: SandboxHandle) -> None:
    hook = make_hook(max_retries=2)
    sandbox.set_faults([{"kind": "http_503", "methods": [BALANCE]}])

    with pytest.raises(AltcraftServerError) as caught:
        hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)

    assert (caught.value.http_status, caught.value.error_code) == (503, 503)
    assert len(api_calls(sandbox, BALANCE)) == 3  # the first attempt + 2 retries


@pytest.mark.parametrize("kind", ["http_503", "http_429"])
def test_redeem_is_retried_when_the_server_says_it_did_not_process_it(
    make_hook: MakeHook, sandbox: SandboxHandle, kind: str
) -> None:
    # 429 always means "not processed"; 503 only when the connection says so.
    hook = make_hook(http_503_not_applied=kind == "http_503")
    sandbox.set_faults([{"kind": kind, "methods": [REDEEM], "max_count": 1}])

    result = hook.send_points_request(redeem_request("r-retry"))

    assert fault_kinds(sandbox, REDEEM) == [kind, None]
    [row] = sandbox.transactions(transaction_eid="r-retry")
    assert row["transaction_id"] == result.transaction_id
    assert ann_stars(sandbox) == Decimal("490.00")


def test_redeem_after_http_503_is_outcome_unknown_by_default(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    # Whether a gateway's 503 can follow an applied write is unpublished: the safe default.
    sandbox.set_faults([{"kind": "http_503", "methods": [REDEEM], "max_count": 1}])

    with pytest.raises(AltcraftOutcomeUnknownError, match="HTTP 503"):
        hook.send_points_request(redeem_request("r-503"))

    assert len(api_calls(sandbox, REDEEM)) == 1


def test_redeem_after_http_500_is_outcome_unknown_and_not_resent(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    sandbox.set_faults([{"kind": "http_500", "methods": [REDEEM]}])

    with pytest.raises(AltcraftOutcomeUnknownError) as caught:
        hook.send_points_request(redeem_request("r-500"))

    error = caught.value
    assert (error.endpoint, error.reason, error.transaction_eid) == (REDEEM, "HTTP 500", "r-500")
    assert "look up transaction_eid 'r-500'" in str(error)
    assert len(api_calls(sandbox, REDEEM)) == 1
    assert ann_stars(sandbox) == Decimal("500.00")


def test_send_once_after_http_500_waits_for_the_next_try(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    sandbox.set_faults([{"kind": "http_500", "methods": [REDEEM], "max_count": 1}])

    # Not found right after the failure proves nothing (Altcraft may still be applying it):
    # no second send within the call.
    with pytest.raises(AltcraftOutcomeUnknownError):
        hook.send_points_request_once(redeem_request("r-500-once"))
    assert fault_kinds(sandbox, REDEEM) == ["http_500"]

    # The task's next try looks the eid up first, finds nothing, and sends it.
    result = hook.send_points_request_once(redeem_request("r-500-once"), check_existing=True)

    [row] = sandbox.transactions(transaction_eid="r-500-once")
    assert (row["transaction_id"], result.already_existed) == (result.transaction_id, False)
    assert fault_kinds(sandbox, REDEEM) == ["http_500", None]
    assert ann_stars(sandbox) == Decimal("490.00")


def test_retry_after_is_honoured(hook: AltcraftHook, sandbox: SandboxHandle) -> None:
    sandbox.set_faults(
        [{"kind": "http_429", "methods": [BALANCE], "max_count": 1, "retry_after": 1}]
    )

    started = time.monotonic()
    balance = hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)
    waited = time.monotonic() - started

    assert balance.total_balance == Decimal("500.00")
    assert fault_kinds(sandbox, BALANCE) == ["http_429", None]
    assert waited >= 0.9  # the connection's backoff alone is at most 0.05 s


def test_retry_after_wait_is_capped_by_retry_after_max(
    make_hook: MakeHook, sandbox: SandboxHandle
) -> None:
    hook = make_hook(retry_after_max=0.3)
    sandbox.set_faults(
        [{"kind": "http_429", "methods": [BALANCE], "max_count": 1, "retry_after": 5}]
    )

    started = time.monotonic()
    hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)
    waited = time.monotonic() - started

    assert fault_kinds(sandbox, BALANCE) == ["http_429", None]
    assert 0.27 <= waited < 4  # the cap, not the 5 s the server asked for


# -- timeouts, dropped connections, refused connections ---------------------------------------


def test_read_timeout_on_a_read_is_retried(make_hook: MakeHook, sandbox: SandboxHandle) -> None:
    hook = make_hook(timeout=0.3)
    sandbox.set_faults([{"kind": "delay", "methods": [BALANCE], "max_count": 1, "delay_ms": 1000}])

    balance = hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)

    assert balance.total_balance == Decimal("500.00")
    assert sandbox.faults()["total_hits"] == 1  # the first attempt was the delayed one


def test_read_timeout_on_every_attempt_is_a_transport_error(
    make_hook: MakeHook, sandbox: SandboxHandle
) -> None:
    hook = make_hook(timeout=0.2, max_retries=1)
    sandbox.set_faults([{"kind": "delay", "methods": [BALANCE], "delay_ms": 600}])

    with pytest.raises(AltcraftTransportError) as caught:
        hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)

    assert caught.value.endpoint == BALANCE
    assert "read timeout (after 2 attempts)" in str(caught.value)
    assert sandbox.faults()["total_hits"] == 2


def test_read_timeout_on_redeem_is_outcome_unknown(
    make_hook: MakeHook, sandbox: SandboxHandle
) -> None:
    hook = make_hook(timeout=0.3)
    sandbox.set_faults([{"kind": "delay", "methods": [REDEEM], "delay_ms": 800}])

    with pytest.raises(AltcraftOutcomeUnknownError) as caught:
        hook.send_points_request(redeem_request("r-slow"))

    assert (caught.value.reason, caught.value.transaction_eid) == ("read timeout", "r-slow")
    # The server finished the request after the client gave up: it was applied, once.
    assert wait_for_transactions(sandbox, "r-slow") == 1
    assert len(api_calls(sandbox, REDEEM)) == 1
    assert sandbox.faults()["total_hits"] == 1


def test_send_once_after_a_read_timeout_does_not_send_again(
    make_hook: MakeHook, sandbox: SandboxHandle
) -> None:
    # The lookup right after the timeout runs while the server is still applying the redeem:
    # "not found" proves nothing then, and sending again would redeem twice.
    hook = make_hook(timeout=0.3)
    sandbox.set_faults([{"kind": "delay", "methods": [REDEEM], "delay_ms": 800}])

    with pytest.raises(AltcraftOutcomeUnknownError) as caught:
        hook.send_points_request_once(redeem_request("r-slow-once"))

    assert caught.value.reason == "read timeout"
    assert wait_for_transactions(sandbox, "r-slow-once") == 1
    sandbox.clear_faults()
    # The task's next try looks the eid up first and finds the late transaction.
    again = hook.send_points_request_once(redeem_request("r-slow-once"), check_existing=True)
    assert again.already_existed
    assert len(api_calls(sandbox, REDEEM)) == 1
    assert ann_stars(sandbox) == Decimal("490.00")


@pytest.mark.parametrize(("kind", "applied"), [("drop_before", 0), ("drop_after", 1)])
def test_dropped_redeem_is_outcome_unknown(
    hook: AltcraftHook, sandbox: SandboxHandle, kind: str, applied: int
) -> None:
    sandbox.set_faults([{"kind": kind, "methods": [REDEEM]}])

    with pytest.raises(AltcraftOutcomeUnknownError) as caught:
        hook.send_points_request(redeem_request("r-drop"))

    assert (caught.value.reason, caught.value.transaction_eid) == ("connection dropped", "r-drop")
    assert fault_kinds(sandbox, REDEEM) == [kind]
    assert len(sandbox.transactions(transaction_eid="r-drop")) == applied


@pytest.mark.parametrize(
    # A lost answer to a send that applied is this call's send, not an earlier one's.
    ("kind", "already_existed", "sends"),
    [("drop_before", False, 2), ("drop_after", False, 1)],
)
def test_send_once_after_a_dropped_connection_applies_exactly_once(
    hook: AltcraftHook, sandbox: SandboxHandle, kind: str, already_existed: bool, sends: int
) -> None:
    sandbox.set_faults([{"kind": kind, "methods": [REDEEM], "max_count": 1}])

    try:
        result = hook.send_points_request_once(redeem_request("r-once"))
    except AltcraftOutcomeUnknownError:
        # Lost before it was applied: not sent again within the call; the next try is.
        assert kind == "drop_before"
        assert sandbox.transactions(transaction_eid="r-once") == []
        result = hook.send_points_request_once(redeem_request("r-once"), check_existing=True)

    [row] = sandbox.transactions(transaction_eid="r-once")
    assert row["transaction_id"] == result.transaction_id
    assert (result.transaction_eid, result.already_existed) == ("r-once", already_existed)
    assert len(api_calls(sandbox, REDEEM)) == sends
    assert result.balance_after == Decimal("490.00")
    assert ann_stars(sandbox) == Decimal("490.00")


def test_send_once_with_check_existing_does_not_send_a_known_eid(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    first = hook.send_points_request(redeem_request("r-known"))
    sandbox.clear_requests()

    again = hook.send_points_request_once(redeem_request("r-known"), check_existing=True)

    assert (again.transaction_id, again.already_existed) == (first.transaction_id, True)
    assert api_calls(sandbox, REDEEM) == []
    assert ann_stars(sandbox) == Decimal("490.00")


def test_send_once_accepts_a_duplicate_refusal_for_its_own_transaction(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    sandbox.configure(duplicate_eid="refuse")
    first = hook.send_points_request(redeem_request("r-dup"))

    again = hook.send_points_request_once(redeem_request("r-dup"))

    assert (again.transaction_id, again.already_existed) == (first.transaction_id, True)
    assert [entry["error"] for entry in api_calls(sandbox, REDEEM)] == [0, 409]
    assert ann_stars(sandbox) == Decimal("490.00")


def test_connection_refused_is_a_transport_error_after_retries(make_hook: MakeHook) -> None:
    hook = make_hook("altcraft_closed_port", url=closed_port_url(), max_retries=2)

    with pytest.raises(AltcraftTransportError) as read_error:
        hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)
    # Refused at connect time, so the redeem surely never left: retrying it was safe.
    with pytest.raises(AltcraftTransportError) as redeem_error:
        hook.send_points_request(redeem_request("r-refused"))

    assert str(read_error.value) == f"Altcraft {BALANCE}: connection refused (after 3 attempts)"
    assert str(redeem_error.value) == f"Altcraft {REDEEM}: connection refused (after 3 attempts)"
    ok, message = hook.test_connection()
    assert not ok and "connection refused" in message


@pytest.mark.parametrize(
    ("action", "endpoint", "status"),
    [
        ("commit", "loyalty/commit_transaction", "committed"),
        ("rollback", "loyalty/rollback_transaction", "rolled_back"),
    ],
)
def test_state_change_whose_answer_was_lost_is_not_reported_as_failed(
    hook: AltcraftHook, sandbox: SandboxHandle, action: str, endpoint: str, status: str
) -> None:
    held = hook.redeem_points(
        loyalty_program_id=PROGRAM, amount="10.00", matching=ANN, is_temp=True, temp_timeout_sec=600
    )
    # The first attempt is applied, then its connection drops: the retry is refused as
    # "already done", which after a lost answer means the first attempt did it.
    sandbox.set_faults([{"kind": "drop_after", "rate": 1.0, "methods": [endpoint], "max_count": 1}])
    result = getattr(hook, f"{action}_transaction")(transaction_id=held.transaction_id)
    assert result.transaction_id == held.transaction_id
    assert len(api_calls(sandbox, endpoint)) == 2
    (transaction,) = sandbox.transactions(transaction_id=held.transaction_id)
    assert transaction["status"] == status


def test_state_change_refused_without_a_lost_answer_still_fails(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    held = hook.redeem_points(
        loyalty_program_id=PROGRAM, amount="10.00", matching=ANN, is_temp=True, temp_timeout_sec=600
    )
    hook.commit_transaction(transaction_id=held.transaction_id)
    with pytest.raises(AltcraftApiError, match="already committed") as caught:
        hook.commit_transaction(transaction_id=held.transaction_id)
    assert caught.value.earlier_attempt_lost is False
