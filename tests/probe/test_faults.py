"""The probe under injected faults: nothing left held, the balance restored, and a fact it
could not establish reported unknown rather than misreported."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.probe.conftest import ProbeOutcome, RunProbe, member_balance

REDEEM = "loyalty/redeeme_points"
ACCRUE = "loyalty/accrue_points"
COMMIT = "loyalty/commit_transaction"
EXPIRING = "loyalty/account/expiring_points"

#: (fault rules, the facts that must be unknown)
CASES: dict[str, tuple[list[dict[str, Any]], set[str]]] = {
    # The first redemption (above the balance: refused) loses its answer.
    "redeem-refusal-answer-lost": (
        [{"kind": "drop_after", "methods": [REDEEM], "max_count": 1}],
        {"error_insufficient_points"},
    ),
    # Both redemptions lose their answers; the second was applied: found by its eid.
    "redeem-applied-answer-lost": (
        [{"kind": "drop_after", "methods": [REDEEM], "max_count": 2}],
        {"error_insufficient_points"},
    ),
    # The first accrual meets a 503 (not applied): the duplicate-eid question has no base.
    "accrue-503": (
        [{"kind": "http_503", "methods": [ACCRUE], "max_count": 1}],
        {"duplicate_eid", "already_rolled_back"},
    ),
    # The commit's answer is lost; the hook resends it and gets "already committed".
    "commit-answer-lost": ([{"kind": "drop_after", "methods": [COMMIT], "max_count": 1}], set()),
    # A read that never succeeds (503 after every retry).
    "periods-503": ([{"kind": "http_503", "methods": [EXPIRING]}], {"date_only_periods"}),
    # Every redemption fails with 503: the accrual committed first is cancelled again.
    "redeem-503": (
        [{"kind": "http_503", "methods": [REDEEM]}],
        {"error_insufficient_points", "commit_temporary_redemption"},
    ),
}


def comparable(outcome: ProbeOutcome) -> dict[str, Any]:
    """Facts without the list of observed error codes (fewer calls, fewer codes)."""
    return {
        name: (fact["value"] if fact["known"] else None) for name, fact in outcome.facts.items()
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_faults_leave_nothing_held_and_misreport_nothing(
    sandbox: SandboxHandle, run_probe: RunProbe, case: str
) -> None:
    rules, expected_unknown = CASES[case]
    sandbox.configure(unpublished_fields=True)  # states listed: every fact can be known
    before = member_balance(sandbox)
    clean = comparable(run_probe())
    assert all(value is not None for name, value in clean.items() if name != "rate_limit")

    sandbox.set_faults(rules)
    outcome = run_probe()

    assert member_balance(sandbox) == before, outcome.output
    assert member_balance(sandbox)["held_balance"] == 0
    assert sandbox.transactions(status="temporary") == []
    assert sandbox.faults()["total_hits"] >= 1
    faulty = comparable(outcome)
    unknown = {name for name, value in faulty.items() if value is None} - {"rate_limit"}
    assert expected_unknown <= unknown, outcome.output
    for name, value in faulty.items():
        if value is None:
            continue
        if name in ("transaction_states", "transaction_types"):
            # Partial when a step failed: what is there must be right.
            for key, item in value.items():
                if key == "seen":
                    assert set(item) <= set(clean[name][key]), (name, outcome.output)
                else:
                    assert item == clean[name][key], (name, key, outcome.output)
        else:
            assert value == clean[name], (name, outcome.output)
    # The run restored the member: it says so and needs no hand work.
    assert outcome.exit_code == 0, outcome.output
    assert "Balance restored" in outcome.output


def test_a_rate_limit_seen_is_recorded(sandbox: SandboxHandle, run_probe: RunProbe) -> None:
    sandbox.set_faults(
        [{"kind": "http_429", "methods": ["tasks/status"], "max_count": 1, "retry_after": 1}]
    )
    outcome = run_probe()

    assert outcome.exit_code == 0, outcome.output
    assert outcome.value("rate_limit") == {"http_status": 429, "retry_after": ["1"]}


def test_what_cannot_be_undone_is_listed_for_a_human(
    sandbox: SandboxHandle, run_probe: RunProbe
) -> None:
    # Rollbacks and cancels fail throughout: the probe cannot restore, and says what to undo.
    sandbox.set_faults(
        [
            {
                "kind": "http_503",
                "methods": ["loyalty/rollback_transaction", "loyalty/cancel_transaction"],
            },
            {"kind": "http_503", "methods": [REDEEM]},
        ]
    )
    outcome = run_probe()

    assert outcome.exit_code == 1
    assert "Undo by hand" in outcome.output
    temporary = sandbox.transactions(status="temporary")
    for transaction in temporary:
        assert transaction["transaction_id"] in outcome.output
    committed = [
        t
        for t in sandbox.transactions(profile_id="p-1")
        if t["status"] == "active" and (t["transaction_eid"] or "").startswith("altcraft-probe-")
    ]
    for transaction in committed:
        assert transaction["transaction_id"] in outcome.output
    assert committed or temporary
    # Undo by hand what it listed: the balance is the seed's again.
    sandbox.clear_faults()
