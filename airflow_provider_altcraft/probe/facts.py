"""The probe's questions: names of the facts, what the provider assumes, what an answer means.

Pure standard library (the plan and the table need no Airflow). A fact in a profile is
``{"known": true, "value": ..., <detail>...}`` or ``{"known": false, "reason": "..."}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_altcraft.server_profile import PROFILE_FORMAT

__all__ = [
    "PROFILE_FORMAT",
    "QUESTIONS",
    "Question",
    "known",
    "render_value",
    "unknown",
]


Fact = dict[str, Any]

# Fact names. Those named like a sandbox option (sandbox/config.py) take its values.
UNKNOWN_MEMBER = "error_unknown_member"
INSUFFICIENT = "error_insufficient_points"
UNKNOWN_TRANSACTION = "error_unknown_transaction"
DUPLICATE_EID = "duplicate_eid"
APP_ERROR_HTTP_STATUS = "app_error_http_status"
TRANSACTION_FIELDS = "transaction_fields"
STATE_FIELD = "transaction_state_field"
STATES = "transaction_states"
TYPES = "transaction_types"
LIST_ORDER = "transaction_list_order"
COMMIT_ACCRUAL = "commit_temporary_accrual"
COMMIT_REDEMPTION = "commit_temporary_redemption"
ALREADY_COMMITTED = "already_committed"
ALREADY_ROLLED_BACK = "already_rolled_back"
DATE_ONLY_PERIODS = "date_only_periods"
TASK_PENDING_STATUS = "task_pending_status"
EXPORT_CSV_COLUMNS = "export_csv_columns"
AUTH_HEADER = "auth_header"
AMOUNT_FORMAT = "amount_format"
EMAIL_MATCHING = "email_matching"
CURRENCY_WHEN_OMITTED = "currency_when_omitted"
POINTS_ANSWER_FIELDS = "points_answer_fields"
RATE_LIMIT = "rate_limit"


def known(value: Any, **detail: Any) -> Fact:
    return {"known": True, "value": value, **detail}


def unknown(reason: str) -> Fact:
    return {"known": False, "reason": reason}


def render_refusal(value: Mapping[str, Any]) -> str:
    if not value.get("refused"):
        return "not refused (succeeded)"
    code = value.get("error")
    return (
        f"error {code if code is not None else '-'}, HTTP {value.get('http_status')}: "
        f"{value.get('error_text') or '(no text)'}"
    )


def render_value(fact: Mapping[str, Any]) -> str:
    """A fact as one short line of the table."""
    if not fact.get("known"):
        return f"unknown: {fact.get('reason', '')}"
    value = fact.get("value")
    if isinstance(value, Mapping) and "refused" in value:
        return render_refusal(value)
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(map(str, value)) or "(none)"
    elif isinstance(value, Mapping):
        text = ", ".join(f"{k}: {render_value(known(v))}" for k, v in value.items())
    else:
        text = str(value)
    refusal = fact.get("refusal")
    if isinstance(refusal, Mapping):
        text += f" ({render_refusal(refusal)})"
    return text


def _value(fact: Mapping[str, Any]) -> Any:
    return fact.get("value") if fact.get("known") else None


@dataclass(frozen=True)
class Question:
    name: str
    question: str
    #: What the provider (and the sandbox's default) assumes without a profile.
    assumption: str
    #: What the measured fact means for the provider (called for known facts only).
    consequence: Callable[[Mapping[str, Any]], str]
    #: Whether answering it moves points (temporary transactions): skipped by --read-only.
    writes: bool = False


def _refusal_consequence(what: str, sandbox_text: str) -> Callable[[Mapping[str, Any]], str]:
    def consequence(fact: Mapping[str, Any]) -> str:
        value = _value(fact) or {}
        if not value.get("refused"):
            return f"the server does not refuse {what}: review every client check that relies on it"
        if value.get("error_text") == sandbox_text:
            return "as the sandbox answers: nothing to change"
        return (
            "the provider raises AltcraftApiError with this code and text; the sandbox answers "
            f"{sandbox_text!r} (it cannot replay this wording yet)"
        )

    return consequence


def _duplicate(fact: Mapping[str, Any]) -> str:
    if _value(fact) == "refuse":
        return (
            "a resent eid is refused, never doubled; the provider still looks the eid up first "
            "(and after this refusal): nothing to change"
        )
    return (
        "the server creates a second transaction under the same eid: exactly-once rests on the "
        "provider's eid lookup before every resend (give money-moving tasks retries)"
    )


def _http_status(fact: Mapping[str, Any]) -> str:
    value = _value(fact)
    if value == "200":
        return "errors arrive with HTTP 200: the provider checks the envelope's error (as it does)"
    if value == "mapped":
        return "HTTP status = error code: the provider reads both; nothing to change"
    return "HTTP status and error code follow no single rule: the provider reads both"


def _state_field(fact: Mapping[str, Any]) -> str:
    if _value(fact):
        return (
            "rolled back / cancelled / expired eids are recognised (AltcraftEidSettledError) "
            "instead of being taken as applied"
        )
    return (
        "a found eid is taken as applied with state_known=false (a rolled-back eid is not "
        "resent; a new eid is needed)"
    )


def _commit(kind: str) -> Callable[[Mapping[str, Any]], str]:
    def consequence(fact: Mapping[str, Any]) -> str:
        if _value(fact) == "new_transaction":
            return (
                f"committing a temporary {kind} creates a new transaction (new id, same eid): "
                "the commit operator returns the new id, lookups take the last row of the eid"
            )
        return f"a temporary {kind} keeps its id when committed: lookups find one row"

    return consequence


def _periods(fact: Mapping[str, Any]) -> str:
    if _value(fact) == "accept":
        return "bare dates are accepted too; the provider sends RFC3339 anyway (no change)"
    return "only RFC3339 bounds work: the provider always sends RFC3339 (as it does)"


def _pending(fact: Mapping[str, Any]) -> str:
    value = _value(fact)
    if value in ("processing", "pending", "in_progress", "running", "queued", "new"):
        return f"{value!r} is read as pending (any non-final status is): nothing to change"
    return f"{value!r} is read as pending (any status neither final nor failed is)"


def _csv(fact: Mapping[str, Any]) -> str:
    columns = set(_value(fact) or ())
    needed = {"transaction_id", "transaction_eid", "amount", "transaction_type", "created_at"}
    missing = sorted(needed - columns)
    if missing:
        return (
            f"the reconcile job needs {', '.join(missing)} (or a known alias): check "
            "export_csv.py's aliases before reconciling against this server"
        )
    return "the reconcile job finds every column it needs"


def _auth(fact: Mapping[str, Any]) -> str:
    if _value(fact) == "accept":
        return "auth_placement may be 'header' or 'body'; downloads send the header (works)"
    return (
        "keep auth_placement 'body'; export downloads send the token in the header only, "
        "so they may fail on this server"
    )


def _already(kind: str, phrase: str) -> Callable[[Mapping[str, Any]], str]:
    def consequence(fact: Mapping[str, Any]) -> str:
        value = _value(fact) or {}
        if not value.get("refused"):
            return f"a repeated {kind} succeeds: a retried {kind} is harmless"
        text = str(value.get("error_text") or "").lower()
        if phrase in text:
            return f"the text holds {phrase!r}: a retried {kind} after a lost answer succeeds"
        return (
            f"the text lacks {phrase!r}: a retried {kind} after a lost answer fails the task "
            "unless the hook reads this profile (connection extra server_profile)"
        )

    return consequence


def _amounts(fact: Mapping[str, Any]) -> str:
    return "amounts are parsed as decimals whatever their rendering: nothing to change"


def _email(fact: Mapping[str, Any]) -> str:
    if _value(fact) == "exact":
        return "e-mails must be sent exactly as stored in Altcraft (case matters)"
    return "e-mail case does not matter for matching"


def _currency(fact: Mapping[str, Any]) -> str:
    if _value(fact) == "refuse":
        return "every call needs a currency: set default_points_currency_eid on the connection"
    return (
        "a call without a currency uses the program's default; exactly-once lookups still "
        "need it named (the provider sends it)"
    )


def _points_answer(fact: Mapping[str, Any]) -> str:
    fields = set(_value(fact) or ())
    if "transaction_id" not in fields:
        return "no transaction_id in the answer: the provider reads it as outcome unknown"
    return "the provider reads transaction_id, balance_before, balance_after (others ignored)"


def _types(fact: Mapping[str, Any]) -> str:
    value = _value(fact) or {}
    if value.get("accrual", "accrual") == "accrual" and value.get("redemption", "redeem") in (
        "redeem",
        "redemption",
    ):
        return "reconcile reads these type names: nothing to change"
    return "reconcile's type names must be checked against these values"


def _states(fact: Mapping[str, Any]) -> str:
    value = _value(fact) or {}
    settled = {"rolled_back", "cancelled", "canceled", "expired"}
    rolled = value.get("rolled back")
    if rolled is not None and rolled not in settled:
        return (
            f"a rolled-back transaction reads {rolled!r}, which the provider does not "
            "recognise as settled"
        )
    return "the provider recognises these state names"


def _rate(fact: Mapping[str, Any]) -> str:
    return "429 is retried after Retry-After (capped by retry_after_max); all threads pause"


def _order(fact: Mapping[str, Any]) -> str:
    if _value(fact) == "newest_first":
        return (
            "the provider takes the LAST listed row of an eid as the one holding the points "
            "(the newest): on this server that is the oldest, so eid lookups need changing"
        )
    return "eid lookups take the last listed row of an eid as the newest: correct here"


def _fields(fact: Mapping[str, Any]) -> str:
    fields = set(_value(fact) or ())
    if "transaction_eid" not in fields:
        return "no transaction_eid in lists: exactly-once lookups cannot work on this server"
    return "eid lookups work (transaction_id and transaction_eid are listed)"


QUESTIONS: tuple[Question, ...] = (
    Question(
        UNKNOWN_MEMBER,
        "error for an unknown member",
        "unpublished; sandbox: 404 'Profile not found'",
        _refusal_consequence("an unknown member", "Profile not found"),
    ),
    Question(
        INSUFFICIENT,
        "error for insufficient points",
        "unpublished; sandbox: 409 'Insufficient points'",
        _refusal_consequence("a redemption above the balance", "Insufficient points"),
        writes=True,
    ),
    Question(
        UNKNOWN_TRANSACTION,
        "error for an unknown transaction",
        "unpublished; sandbox: 404 'Transaction not found'",
        _refusal_consequence("an unknown transaction", "Transaction not found"),
        writes=True,
    ),
    Question(
        DUPLICATE_EID,
        "a second transaction with the same transaction_eid",
        "unknown; provider: may be accepted (looks the eid up); sandbox: accept",
        _duplicate,
        writes=True,
    ),
    Question(
        APP_ERROR_HTTP_STATUS,
        "HTTP status carrying application errors",
        "200 (the guide: always check error)",
        _http_status,
    ),
    Question(
        TRANSACTION_FIELDS,
        "fields of account/transactions items",
        "the 14 published fields",
        _fields,
    ),
    Question(
        STATE_FIELD,
        "does a transaction list report a state (status)?",
        "no (none published); sandbox: unpublished_fields=false",
        _state_field,
    ),
    Question(
        STATES,
        "state values of the probe's transactions",
        "sandbox: temporary, rolled_back, committed, active",
        _states,
        writes=True,
    ),
    Question(
        TYPES,
        "transaction_type values",
        "'accrual' (guide example); sandbox: accrual, redeem",
        _types,
    ),
    Question(
        LIST_ORDER,
        "order of account/transactions",
        "oldest first (from_id returns the ids after it); sandbox: oldest first",
        _order,
        writes=True,
    ),
    Question(
        COMMIT_ACCRUAL,
        "committing a temporary accrual",
        "creates a new transaction (the guide's commit page)",
        _commit("accrual"),
        writes=True,
    ),
    Question(
        COMMIT_REDEMPTION,
        "committing a temporary redemption",
        "keeps its id (sandbox choice)",
        _commit("redemption"),
        writes=True,
    ),
    Question(
        ALREADY_COMMITTED,
        "refusal of a second commit",
        "text holds 'already committed' (sandbox: 409)",
        _already("commit", "already committed"),
        writes=True,
    ),
    Question(
        ALREADY_ROLLED_BACK,
        "refusal of a second rollback",
        "text holds 'already rolled back' (sandbox: 409)",
        _already("rollback", "already rolled back"),
        writes=True,
    ),
    Question(
        DATE_ONLY_PERIODS,
        "period bounds as bare dates (YYYY-MM-DD)",
        "refused: RFC3339 only (the guide)",
        _periods,
    ),
    Question(
        TASK_PENDING_STATUS,
        "tasks/status value while running",
        "unpublished; sandbox: 'processing'",
        _pending,
    ),
    Question(
        EXPORT_CSV_COLUMNS,
        "columns of the transactions export CSV",
        "unpublished; sandbox: the published list fields",
        _csv,
    ),
    Question(
        AUTH_HEADER,
        "token in the Authorization: Bearer header",
        "accepted by newer installations; provider default: body",
        _auth,
    ),
    Question(
        AMOUNT_FORMAT,
        "amount rendering in answers",
        "plain ('100.1', the guide's example)",
        _amounts,
    ),
    Question(
        EMAIL_MATCHING,
        "e-mail matching and letter case",
        "unpublished; sandbox: case-insensitive",
        _email,
    ),
    Question(
        CURRENCY_WHEN_OMITTED,
        "balance call without a currency",
        "unpublished; sandbox: the program's default currency",
        _currency,
    ),
    Question(
        POINTS_ANSWER_FIELDS,
        "fields of the accrue/redeem answer",
        "transaction_id, balance_before, balance_after",
        _points_answer,
        writes=True,
    ),
    Question(
        RATE_LIMIT,
        "rate-limit answer",
        "unpublished; treated as HTTP 429 + Retry-After",
        _rate,
    ),
)

QUESTION_BY_NAME = {question.name: question for question in QUESTIONS}
