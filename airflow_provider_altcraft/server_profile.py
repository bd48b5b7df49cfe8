"""What a probe profile tells the hook: typed facts about one Altcraft server, safe defaults.

A layer below both the hook (which reads a profile named by the connection) and the probe
(which writes one).

``load_profile(path)`` reads what ``altcraft-probe --profile-out`` wrote; every fact the
profile lacks (not probed, unknown, an older file) is ``None`` or empty, which means "assume
nothing": the provider's defaults stay in force. Pure standard library, cheap to import.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PROFILE_FORMAT", "ProfileError", "Refusal", "ServerProfile", "load_profile"]

#: The format (and version) of a profile file, written by ``altcraft-probe --profile-out``.
PROFILE_FORMAT = "altcraft-probe-profile/1"

#: The probe replaces ids, eids and personal data in texts with ``<...>`` placeholders.
_PLACEHOLDER = re.compile(r"<[^<>]*>")
#: The endpoint whose "already done" refusal each fact measured.
_ALREADY_DONE_FACTS = {
    "already_committed": "loyalty/commit_transaction",
    "already_rolled_back": "loyalty/rollback_transaction",
}


class ProfileError(ValueError):
    """The file is not a probe profile this version can read."""


@dataclass(frozen=True)
class Refusal:
    """How the server refused one request: its error code, HTTP status and text."""

    error_code: int | None
    http_status: int | None
    error_text: str

    @classmethod
    def from_fact(cls, value: object) -> Refusal | None:
        if not isinstance(value, Mapping) or not value.get("refused"):
            return None
        code, status = value.get("error"), value.get("http_status")
        return cls(
            code if isinstance(code, int) else None,
            status if isinstance(status, int) else None,
            str(value.get("error_text") or ""),
        )

    def matches(self, error_code: int | None, error_text: str) -> bool:
        """Whether an error is this refusal: same code and the text's fixed wording."""
        if self.error_code is not None and error_code != self.error_code:
            return False
        phrase = phrase_of(self.error_text)
        return not phrase or phrase in error_text.lower()


def phrase_of(text: str) -> str:
    """The longest fixed part of a recorded error text, lower case (ids were replaced by
    placeholders, and a live error text carries the real ones there)."""
    parts = [part.strip(" .,:;'\"()[]") for part in _PLACEHOLDER.split(text.lower())]
    return max(parts, key=len, default="")


@dataclass(frozen=True)
class ServerProfile:
    """Measured facts of one Altcraft installation (``None``: not measured, assume nothing)."""

    source: str | None = None
    #: Whether a second transaction under an eid is refused, and how.
    duplicate_eid_refused: bool | None = None
    duplicate_eid_refusal: Refusal | None = None
    #: Whether transaction lists report a state, and under which key.
    state_field: bool | None = None
    state_field_name: str | None = None
    #: The state value of a rolled-back transaction (the provider knows "rolled_back").
    rolled_back_state: str | None = None
    #: Whether committing a temporary accrual / redemption creates a new transaction.
    commit_creates_accrual: bool | None = None
    commit_creates_redemption: bool | None = None
    #: The measured "already done" phrases, per endpoint (added to the provider's own).
    already_done: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: True: application errors come with HTTP 200; False: with a mapped status.
    app_errors_with_http_200: bool | None = None
    date_only_periods_accepted: bool | None = None
    task_pending_status: str | None = None
    export_csv_columns: tuple[str, ...] | None = None
    auth_header_accepted: bool | None = None
    email_case_insensitive: bool | None = None
    currency_required: bool | None = None
    #: transaction_type of an accrual and of a redemption, when measured.
    transaction_types: Mapping[str, str] = field(default_factory=dict)
    unknown_member: Refusal | None = None
    insufficient_points: Refusal | None = None
    unknown_transaction: Refusal | None = None

    def already_done_phrases(
        self, defaults: Mapping[str, tuple[str, ...]]
    ) -> dict[str, tuple[str, ...]]:
        """``defaults`` (the hook's ALREADY_DONE_PHRASES) plus the measured phrases."""
        merged = {endpoint: tuple(phrases) for endpoint, phrases in defaults.items()}
        for endpoint, phrases in self.already_done.items():
            known = merged.get(endpoint, ())
            merged[endpoint] = known + tuple(p for p in phrases if p not in known)
        return merged

    def says_already_done(
        self, endpoint: str, error_text: str, defaults: Mapping[str, tuple[str, ...]]
    ) -> bool:
        text = error_text.lower()
        phrases = self.already_done_phrases(defaults).get(endpoint, ())
        return any(phrase in text for phrase in phrases)

    def is_duplicate_eid_refusal(self, error_code: int | None, error_text: str) -> bool:
        """Whether a refused redeem/accrue is this server's "eid already used" answer."""
        refusal = self.duplicate_eid_refusal
        return refusal is not None and refusal.matches(error_code, error_text)


def _fact_value(facts: Mapping[str, Any], name: str) -> Any:
    fact = facts.get(name)
    if isinstance(fact, Mapping) and fact.get("known"):
        return fact.get("value")
    return None


def _choice(value: object, yes: str, no: str) -> bool | None:
    return True if value == yes else False if value == no else None


def profile_from_document(document: object, source: str | None = None) -> ServerProfile:
    """The typed facts of a profile document (the parsed JSON)."""
    if not isinstance(document, Mapping) or document.get("format") != PROFILE_FORMAT:
        raise ProfileError(f"not a probe profile: 'format' must be {PROFILE_FORMAT!r}")
    facts = document.get("facts")
    if not isinstance(facts, Mapping):
        raise ProfileError("not a probe profile: 'facts' must be an object")

    def value(name: str) -> Any:
        return _fact_value(facts, name)

    duplicate = facts.get("duplicate_eid")
    state_fact = facts.get("transaction_state_field")
    state_keys = state_fact.get("fields") if isinstance(state_fact, Mapping) else None
    state_name = next(
        (k for k in ("status", "state") if isinstance(state_keys, list) and k in state_keys),
        None,
    )
    states = value("transaction_states")
    rolled_back = states.get("rolled back") if isinstance(states, Mapping) else None
    already_done: dict[str, tuple[str, ...]] = {}
    for name, endpoint in _ALREADY_DONE_FACTS.items():
        refusal = Refusal.from_fact(value(name))
        phrase = phrase_of(refusal.error_text) if refusal is not None else ""
        if phrase:
            already_done[endpoint] = (phrase,)
    pending = value("task_pending_status")
    columns = value("export_csv_columns")
    types = value("transaction_types")
    http = value("app_error_http_status")
    return ServerProfile(
        source=source,
        duplicate_eid_refused=_choice(value("duplicate_eid"), "refuse", "accept"),
        duplicate_eid_refusal=(
            Refusal.from_fact(duplicate.get("refusal"))
            if isinstance(duplicate, Mapping) and duplicate.get("known")
            else None
        ),
        state_field=value("transaction_state_field")
        if isinstance(value("transaction_state_field"), bool)
        else None,
        state_field_name=state_name,
        rolled_back_state=str(rolled_back).lower() if isinstance(rolled_back, str) else None,
        commit_creates_accrual=_choice(
            value("commit_temporary_accrual"), "new_transaction", "same_transaction"
        ),
        commit_creates_redemption=_choice(
            value("commit_temporary_redemption"), "new_transaction", "same_transaction"
        ),
        already_done=already_done,
        app_errors_with_http_200=True if http == "200" else False if http == "mapped" else None,
        date_only_periods_accepted=_choice(value("date_only_periods"), "accept", "refuse"),
        task_pending_status=pending if isinstance(pending, str) and pending else None,
        export_csv_columns=tuple(map(str, columns)) if isinstance(columns, list) else None,
        auth_header_accepted=_choice(value("auth_header"), "accept", "refuse"),
        email_case_insensitive=_choice(value("email_matching"), "case_insensitive", "exact"),
        currency_required=_choice(value("currency_when_omitted"), "refuse", "program_default"),
        transaction_types=(
            {k: str(v) for k, v in types.items() if k in ("accrual", "redemption") and v}
            if isinstance(types, Mapping)
            else {}
        ),
        unknown_member=Refusal.from_fact(value("error_unknown_member")),
        insufficient_points=Refusal.from_fact(value("error_insufficient_points")),
        unknown_transaction=Refusal.from_fact(value("error_unknown_transaction")),
    )


def load_profile(path: str | os.PathLike[str] | None) -> ServerProfile:
    """The profile at ``path`` (``None`` or empty: no profile, every fact unknown).

    Raises :class:`ProfileError` (a ValueError) when the file cannot be read or is not a
    profile of this format: a connection naming a profile must not silently ignore it.
    """
    if path is None or not os.fspath(path).strip():
        return ServerProfile()
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ProfileError(f"cannot read probe profile {os.fspath(path)!r}: {exc}") from None
    return profile_from_document(document, source=os.fspath(path))
