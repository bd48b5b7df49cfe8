"""The probe against sandboxes configured every way: the profile it writes equals the
configuration, replays it, and the member's balance is untouched."""

from __future__ import annotations

import re
from typing import Any

import pytest

from airflow_provider_altcraft.sandbox import SandboxHandle
from airflow_provider_altcraft.sandbox.config import SandboxConfig
from airflow_provider_altcraft.sandbox.profile import sandbox_options, unreplayable
from tests.conftest import TOKEN
from tests.probe.conftest import MEMBER_EMAIL, RunProbe, member_balance

#: Every option the probe measures, each value present in at least one configuration.
CONFIGS: dict[str, dict[str, Any]] = {
    "guide-defaults": {
        "duplicate_eid": "accept",
        "app_error_http_status": "200",
        "unpublished_fields": False,
        "commit_creates_transaction": "accrual",
        "date_only_periods": "refuse",
        "task_pending_status": "processing",
        "amount_format": "plain",
        "auth_header": "accept",
        "email_matching": "case_insensitive",
        "currency_when_omitted": "program_default",
    },
    "all-switched": {
        "duplicate_eid": "refuse",
        "app_error_http_status": "mapped",
        "unpublished_fields": True,
        "commit_creates_transaction": "always",
        "date_only_periods": "accept",
        "task_pending_status": "running",
        "amount_format": "padded",
        "auth_header": "refuse",
        "email_matching": "exact",
        "currency_when_omitted": "refuse",
    },
    "commit-in-place": {
        "duplicate_eid": "accept",
        "app_error_http_status": "mapped",
        "unpublished_fields": True,
        "commit_creates_transaction": "never",
        "date_only_periods": "refuse",
        "task_pending_status": "queued",
        "amount_format": "plain",
        "auth_header": "accept",
        "email_matching": "case_insensitive",
        "currency_when_omitted": "program_default",
    },
    "mixed": {
        "duplicate_eid": "refuse",
        "app_error_http_status": "200",
        "unpublished_fields": False,
        "commit_creates_transaction": "never",
        "date_only_periods": "accept",
        "task_pending_status": "in_progress",
        "amount_format": "padded",
        "auth_header": "refuse",
        "email_matching": "exact",
        "currency_when_omitted": "refuse",
    },
}
#: Facts named like the option they measure.
SAME_NAME = (
    "duplicate_eid",
    "app_error_http_status",
    "date_only_periods",
    "task_pending_status",
    "amount_format",
    "auth_header",
    "email_matching",
    "currency_when_omitted",
)
COMMIT_FACTS = {
    "accrual": ("new_transaction", "same_transaction"),
    "always": ("new_transaction", "new_transaction"),
    "never": ("same_transaction", "same_transaction"),
}


def configure(sandbox: SandboxHandle, options: dict[str, Any]) -> None:
    sandbox.configure(**{**SandboxConfig().as_dict(), **options})


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_profile_equals_configuration_and_replays(
    sandbox: SandboxHandle, run_probe: RunProbe, name: str
) -> None:
    config = CONFIGS[name]
    configure(sandbox, config)
    before = member_balance(sandbox)

    first = run_probe()

    assert first.exit_code == 0, first.output
    for option in SAME_NAME:
        assert first.value(option) == config[option], option
    assert first.value("transaction_state_field") is config["unpublished_fields"]
    assert (
        first.value("commit_temporary_accrual"),
        first.value("commit_temporary_redemption"),
    ) == COMMIT_FACTS[config["commit_creates_transaction"]]
    assert sandbox_options(first.facts_document()) == config
    # The sandbox's own answers: nothing it cannot replay.
    assert unreplayable(first.facts_document()) == []
    # The member is exactly as before, nothing held, no temporary transaction left.
    assert member_balance(sandbox) == before
    assert before["held_balance"] == 0
    assert sandbox.transactions(status="temporary") == []
    assert "Balance restored" in first.output and "Nothing is left held" in first.output
    # No personal data, no token, no id of this run in the profile.
    for secret in (MEMBER_EMAIL, MEMBER_EMAIL.upper(), "a***@example.com", TOKEN):
        assert secret not in first.profile_text
    assert not re.search(r"altcraft-probe-[0-9a-f]{12}", first.profile_text)
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", first.profile_text)  # no uuid

    # Replayed: a sandbox configured from the profile alone gives the same facts.
    sandbox.load_seed(sandbox_seed())
    configure(sandbox, sandbox_options(first.facts_document()))
    second = run_probe()
    assert second.exit_code == 0, second.output
    assert second.facts == first.facts


def sandbox_seed() -> Any:
    from tests.conftest import SEED_PATH

    return SEED_PATH


def test_every_option_value_is_covered() -> None:
    from airflow_provider_altcraft.sandbox.config import CHOICES

    measured = (*SAME_NAME, "commit_creates_transaction")
    for option in measured:
        if option in CHOICES:
            seen = {config[option] for config in CONFIGS.values()}
            assert seen == set(CHOICES[option]), option
    assert {config["unpublished_fields"] for config in CONFIGS.values()} == {True, False}
