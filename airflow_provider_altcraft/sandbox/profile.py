"""Replay a probe profile: the facts ``altcraft-probe`` measured on a real account, as sandbox
options (:func:`sandbox_options`), and what the sandbox cannot replay yet (:func:`unreplayable`).

A profile is ``{"format": "altcraft-probe-profile/1", "facts": {name: fact}}``, each fact
``{"known": true, "value": ...}`` or ``{"known": false, "reason": ...}``. An unknown fact
leaves the sandbox's default (the strict reading of the guide). Pure standard library, like
the rest of the sandbox.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from airflow_provider_altcraft.sandbox.config import CHOICES, SandboxConfig
from airflow_provider_altcraft.sandbox.ledger import (
    E_COMMITTED,
    E_DUPLICATE,
    E_INSUFFICIENT,
    E_PROFILE,
    E_ROLLED_BACK,
    E_TX,
    EXPORT_CSV_COLUMNS,
    PUBLISHED_FIELDS,
    UNPUBLISHED_LIST_FIELDS,
)

__all__ = ["PROFILE_FORMAT", "ProfileError", "read_profile", "sandbox_options", "unreplayable"]

PROFILE_FORMAT = "altcraft-probe-profile/1"

#: Facts whose values are those of the sandbox option of the same name.
CHOICE_FACTS = (
    "duplicate_eid",
    "app_error_http_status",
    "date_only_periods",
    "amount_format",
    "auth_header",
    "email_matching",
    "currency_when_omitted",
)
#: (commit of a temporary accrual, of a temporary redemption) -> commit_creates_transaction.
COMMIT_CHOICES = {
    ("new_transaction", "new_transaction"): "always",
    ("new_transaction", "same_transaction"): "accrual",
    ("same_transaction", "same_transaction"): "never",
}
#: What the sandbox answers to each refusal the probe provokes: (error, error_text).
SANDBOX_REFUSALS: dict[str, tuple[int, str]] = {
    "error_unknown_member": E_PROFILE,
    "error_insufficient_points": E_INSUFFICIENT,
    "error_unknown_transaction": E_TX,
    "already_committed": E_COMMITTED,
    "already_rolled_back": E_ROLLED_BACK,
}
#: The same for refusals recorded beside a choice (api.py and values.py word them).
SANDBOX_CHOICE_REFUSALS: dict[str, tuple[int, str]] = {
    "duplicate_eid": E_DUPLICATE,
    "currency_when_omitted": (400, "points_currency_iid or points_currency_eid is required"),
    "date_only_periods": (
        400,
        'date_from must be an RFC3339 date-time, e.g. "2024-09-01T00:00:00Z"',
    ),
}
SANDBOX_TYPES = {"accrual": "accrual", "redemption": "redeem"}
SANDBOX_STATES = {
    "temporary": "temporary",
    "rolled back": "rolled_back",
    "committed temporary accrual": "committed",
    "new transaction of a commit": "active",
    "committed temporary redemption": "committed",
}
SANDBOX_POINTS_ANSWER = ["balance_after", "balance_before", "transaction_id"]


class ProfileError(ValueError):
    """Not a probe profile, or one of another format version."""


def read_profile(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check a profile file written by ``altcraft-probe --profile-out``."""
    try:
        with open(path, encoding="utf-8") as handle:
            profile = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ProfileError(f"cannot read probe profile {os.fspath(path)!r}: {exc}") from None
    _facts(profile)
    return dict(profile)


def _facts(profile: object) -> Mapping[str, Any]:
    if not isinstance(profile, Mapping) or profile.get("format") != PROFILE_FORMAT:
        raise ProfileError(f"not a probe profile: 'format' must be {PROFILE_FORMAT!r}")
    facts = profile.get("facts")
    if not isinstance(facts, Mapping):
        raise ProfileError("not a probe profile: 'facts' must be an object")
    return facts


def _value(facts: Mapping[str, Any], name: str) -> Any:
    fact = facts.get(name)
    if isinstance(fact, Mapping) and fact.get("known"):
        return fact.get("value")
    return None


def sandbox_options(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The sandbox options (``/_sandbox/config`` keys) that reproduce the profile's facts.

    Only measured facts give options; the rest keep the sandbox's defaults. The result is
    validated by :class:`SandboxConfig` (a profile cannot smuggle in an invalid value).
    """
    facts = _facts(profile)
    options: dict[str, Any] = {}
    for name in CHOICE_FACTS:
        value = _value(facts, name)
        if isinstance(value, str) and value in CHOICES[name]:
            options[name] = value
    pending = _value(facts, "task_pending_status")
    if isinstance(pending, str) and pending and pending not in ("completed", "success"):
        options["task_pending_status"] = pending
    state = _value(facts, "transaction_state_field")
    if isinstance(state, bool):
        options["unpublished_fields"] = state
    commit = COMMIT_CHOICES.get(
        (_value(facts, "commit_temporary_accrual"), _value(facts, "commit_temporary_redemption"))
    )
    if commit is not None:
        options["commit_creates_transaction"] = commit
    SandboxConfig().updated(options)  # raises ConfigError on anything invalid
    return options


def unreplayable(profile: Mapping[str, Any]) -> list[str]:
    """What the profile measured that the sandbox cannot reproduce yet, one sentence each."""
    facts = _facts(profile)
    gaps: list[str] = []
    for name, (code, text) in SANDBOX_REFUSALS.items():
        value = _value(facts, name)
        if not isinstance(value, Mapping):
            continue
        if not value.get("refused"):
            gaps.append(f"{name}: the server does not refuse this; the sandbox answers {code}")
        elif (value.get("error"), value.get("error_text")) != (code, text):
            gaps.append(
                f"{name}: the server answers error {value.get('error')} "
                f"{value.get('error_text')!r}; the sandbox {code} {text!r}"
            )
    for name, (code, text) in SANDBOX_CHOICE_REFUSALS.items():
        refusal = (facts.get(name) or {}).get("refusal")
        if isinstance(refusal, Mapping) and (refusal.get("error"), refusal.get("error_text")) != (
            code,
            text,
        ):
            gaps.append(
                f"{name}: the server refuses with error {refusal.get('error')} "
                f"{refusal.get('error_text')!r}; the sandbox {code} {text!r}"
            )
    status = _value(facts, "app_error_http_status")
    if isinstance(status, str) and status not in CHOICES["app_error_http_status"]:
        observed = (facts.get("app_error_http_status") or {}).get("observed")
        gaps.append(f"app_error_http_status: no single rule ({observed}); the sandbox has two")
    pair = (_value(facts, "commit_temporary_accrual"), _value(facts, "commit_temporary_redemption"))
    if None not in pair and pair not in COMMIT_CHOICES:
        gaps.append(
            "commit_creates_transaction: a redemption gets a new transaction on commit but an "
            "accrual does not; the sandbox has no such choice"
        )
    state = _value(facts, "transaction_state_field")
    fields = _value(facts, "transaction_fields")
    if isinstance(fields, list) and isinstance(state, bool):
        expected = sorted(PUBLISHED_FIELDS + (UNPUBLISHED_LIST_FIELDS if state else ()))
        if sorted(fields) != expected:
            extra = sorted(set(fields) - set(expected))
            missing = sorted(set(expected) - set(fields))
            gaps.append(
                f"transaction_fields: the server lists extra {extra} and lacks {missing} "
                "compared with the sandbox"
            )
    columns = _value(facts, "export_csv_columns")
    if isinstance(columns, list):
        expected_columns = list(EXPORT_CSV_COLUMNS if state else PUBLISHED_FIELDS)
        if columns != expected_columns:
            gaps.append(f"export_csv_columns: the server writes {columns}")
    types = _value(facts, "transaction_types")
    if isinstance(types, Mapping):
        measured = {k: v for k, v in types.items() if k in SANDBOX_TYPES}
        if any(SANDBOX_TYPES[k] != v for k, v in measured.items()):
            gaps.append(f"transaction_types: the server names them {measured}")
    states = _value(facts, "transaction_states")
    if isinstance(states, Mapping):
        differing = {k: v for k, v in states.items() if SANDBOX_STATES.get(k, v) != v}
        if differing:
            gaps.append(f"transaction_states: the server names them {differing}")
    answer = _value(facts, "points_answer_fields")
    if isinstance(answer, list) and sorted(answer) != SANDBOX_POINTS_ANSWER:
        gaps.append(f"points_answer_fields: the server answers {sorted(answer)}")
    if _value(facts, "transaction_list_order") == "newest_first":
        gaps.append("transaction_list_order: the server lists the newest first; the sandbox oldest")
    rate = _value(facts, "rate_limit")
    if rate is not None:
        gaps.append(
            f"rate_limit: the server answered {rate}; the sandbox rate-limits only through "
            "fault rules (kind http_429, retry_after)"
        )
    return gaps
