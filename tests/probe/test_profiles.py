"""Reading profiles: the hook's typed facts (server_profile.py) and the sandbox's options and
gaps (sandbox/profile.py), on profiles the probe wrote and on hand-written ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.hooks.altcraft import ALREADY_DONE_PHRASES
from airflow_provider_altcraft.probe import facts as F
from airflow_provider_altcraft.sandbox import SandboxHandle
from airflow_provider_altcraft.sandbox import profile as sandbox_profile
from airflow_provider_altcraft.sandbox.config import ConfigError
from airflow_provider_altcraft.sandbox.profile import read_profile, sandbox_options, unreplayable
from airflow_provider_altcraft.server_profile import (
    ProfileError,
    Refusal,
    ServerProfile,
    load_profile,
    phrase_of,
    profile_from_document,
)
from tests.probe.conftest import RunProbe

#: The hook's own phrases, which it passes to the profile.
HOOK_PHRASES = ALREADY_DONE_PHRASES


def document(**facts: Any) -> dict[str, Any]:
    return {"format": F.PROFILE_FORMAT, "facts": facts}


def refusal(code: int, text: str, status: int = 200) -> dict[str, Any]:
    return {"refused": True, "error": code, "http_status": status, "error_text": text}


def test_the_formats_agree() -> None:
    assert sandbox_profile.PROFILE_FORMAT == F.PROFILE_FORMAT


def test_no_profile_means_every_fact_unknown() -> None:
    assert load_profile(None) == ServerProfile()
    assert load_profile("") == ServerProfile()
    empty = profile_from_document(document())
    assert empty == ServerProfile()
    assert empty.already_done_phrases(HOOK_PHRASES) == HOOK_PHRASES
    assert not empty.is_duplicate_eid_refusal(409, "Duplicate transaction_eid")
    assert sandbox_options(document()) == {}
    assert unreplayable(document()) == []


def test_unknown_facts_are_not_taken_as_values() -> None:
    doc = document(
        duplicate_eid=F.unknown("the answer was lost"),
        transaction_state_field=F.unknown("x"),
        commit_temporary_accrual=F.known("new_transaction"),  # redemption unknown: no option
    )
    assert sandbox_options(doc) == {}
    profile = profile_from_document(doc)
    assert profile.duplicate_eid_refused is None and profile.state_field is None
    assert profile.commit_creates_accrual is True and profile.commit_creates_redemption is None


@pytest.mark.parametrize(
    "bad",
    [
        {"format": "altcraft-probe-profile/2", "facts": {}},
        {"facts": {}},
        {"format": F.PROFILE_FORMAT, "facts": []},
        [],
    ],
)
def test_other_documents_are_refused(bad: Any, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ProfileError):
        load_profile(path)
    with pytest.raises(sandbox_profile.ProfileError):
        read_profile(path)


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    for path in (tmp_path / "missing.json", tmp_path / "broken.json"):
        with pytest.raises(ProfileError, match="cannot read probe profile"):
            load_profile(path)
        with pytest.raises(ValueError, match="cannot read probe profile"):
            read_profile(path)


def test_a_profile_written_by_the_probe_reads_back_typed(
    sandbox: SandboxHandle, run_probe: RunProbe, tmp_path: Path
) -> None:
    sandbox.configure(
        duplicate_eid="refuse",
        unpublished_fields=True,
        commit_creates_transaction="always",
        app_error_http_status="mapped",
        auth_header="refuse",
        task_pending_status="running",
    )
    outcome = run_probe()
    assert outcome.exit_code == 0, outcome.output
    path = tmp_path / "written.json"
    path.write_text(outcome.profile_text, encoding="utf-8")

    profile = load_profile(path)

    assert profile.source == str(path)
    assert profile.duplicate_eid_refused is True
    assert profile.duplicate_eid_refusal == Refusal(409, 409, "Duplicate transaction_eid")
    assert profile.is_duplicate_eid_refusal(409, "Duplicate transaction_eid")
    assert not profile.is_duplicate_eid_refusal(409, "Insufficient points")
    assert profile.state_field is True and profile.state_field_name == "status"
    assert profile.rolled_back_state == "rolled_back"
    assert profile.commit_creates_accrual is True and profile.commit_creates_redemption is True
    assert profile.app_errors_with_http_200 is False
    assert profile.auth_header_accepted is False
    assert profile.task_pending_status == "running"
    assert profile.date_only_periods_accepted is False
    assert profile.email_case_insensitive is True
    assert profile.currency_required is False
    assert profile.transaction_types == {"accrual": "accrual", "redemption": "redeem"}
    assert profile.export_csv_columns is not None and "status" in profile.export_csv_columns
    assert profile.unknown_member == Refusal(404, 404, "Profile not found")
    assert profile.insufficient_points == Refusal(409, 409, "Insufficient points")
    assert profile.unknown_transaction == Refusal(404, 404, "Transaction not found")
    phrases = profile.already_done_phrases(HOOK_PHRASES)
    assert phrases["loyalty/commit_transaction"] == (
        "already committed",
        "transaction is already committed",
    )
    assert profile.says_already_done(
        "loyalty/commit_transaction", "Transaction is already committed", HOOK_PHRASES
    )
    # The sandbox reads the same file.
    assert sandbox_options(read_profile(path))["duplicate_eid"] == "refuse"


def test_a_server_worded_otherwise_is_recognised_through_its_profile() -> None:
    doc = document(
        already_committed=F.known(refusal(1207, "Transaction <transaction_id> was closed earlier")),
        already_rolled_back=F.known(refusal(1208, "Rollback impossible: state is final")),
        duplicate_eid=F.known(
            "refuse", refusal=refusal(1301, "External id <transaction_eid> is taken")
        ),
    )
    profile = profile_from_document(doc)

    assert phrase_of("Transaction <transaction_id> was closed earlier") == "was closed earlier"
    commit = "loyalty/commit_transaction"
    closed = "Transaction 42 was closed earlier"
    assert not ServerProfile().says_already_done(commit, closed, HOOK_PHRASES)
    assert profile.says_already_done(commit, closed, HOOK_PHRASES)
    assert profile.says_already_done(commit, "Transaction is already committed", HOOK_PHRASES)
    assert profile.says_already_done(
        "loyalty/rollback_transaction", "Rollback impossible: state is final", HOOK_PHRASES
    )
    assert profile.is_duplicate_eid_refusal(1301, "External id order-7 is taken")
    assert not profile.is_duplicate_eid_refusal(1302, "External id order-7 is taken")
    # The sandbox cannot word it so: each difference is reported.
    gaps = unreplayable(doc)
    assert any(gap.startswith("already_committed: ") and "1207" in gap for gap in gaps)
    assert any(gap.startswith("already_rolled_back: ") for gap in gaps)
    assert any(gap.startswith("duplicate_eid: ") and "1301" in gap for gap in gaps)
    assert sandbox_options(doc) == {"duplicate_eid": "refuse"}


def test_what_the_sandbox_cannot_replay_is_listed() -> None:
    doc = document(
        commit_temporary_accrual=F.known("same_transaction"),
        commit_temporary_redemption=F.known("new_transaction"),
        app_error_http_status=F.known("mixed", observed=[{"error": 7, "http_status": 400}]),
        error_insufficient_points=F.known({"refused": False}),
        transaction_state_field=F.known(False, fields=[]),
        transaction_fields=F.known(["transaction_id", "transaction_eid", "amount", "kind"]),
        export_csv_columns=F.known(["id", "eid"]),
        transaction_types=F.known({"accrual": "ACCRUAL", "redemption": "WRITE_OFF"}),
        transaction_states=F.known({"rolled back": "ROLLBACK"}),
        points_answer_fields=F.known(["transaction_id"]),
        rate_limit=F.known({"http_status": 429, "retry_after": ["5"]}),
        transaction_list_order=F.known("newest_first"),
        currency_when_omitted=F.known("refuse", refusal=refusal(400, "Currency?")),
    )

    options = sandbox_options(doc)
    gaps = unreplayable(doc)

    assert options == {"unpublished_fields": False, "currency_when_omitted": "refuse"}
    prefixes = {gap.split(":", 1)[0] for gap in gaps}
    assert prefixes == {
        "commit_creates_transaction",
        "app_error_http_status",
        "error_insufficient_points",
        "transaction_fields",
        "export_csv_columns",
        "transaction_types",
        "transaction_states",
        "points_answer_fields",
        "rate_limit",
        "currency_when_omitted",
        "transaction_list_order",
    }


def test_invalid_values_in_a_profile_give_no_option() -> None:
    doc = document(
        duplicate_eid=F.known("sometimes"),
        task_pending_status=F.known("completed"),
        amount_format=F.known(3),
        transaction_state_field=F.known("yes"),
    )
    assert sandbox_options(doc) == {}


def test_the_options_are_validated_by_the_sandbox_config(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = document(task_pending_status=F.known("processing"))
    broken = copy.deepcopy(sandbox_profile.CHOICES)
    broken["amount_format"] = ("plain", "padded", "scientific")
    monkeypatch.setattr(sandbox_profile, "CHOICES", broken)
    assert sandbox_options(doc) == {"task_pending_status": "processing"}
    with pytest.raises(ConfigError):
        sandbox_options(document(amount_format=F.known("scientific")))
