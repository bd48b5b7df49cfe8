"""The probe's conversation with a live Altcraft API, through :class:`AltcraftHook`.

Safety rules, in the order they are applied:

* Every write is a *temporary* transaction of the smallest amount with ``temp_timeout_sec``
  set, so anything the probe loses track of rolls back by itself.
* The only points that become permanent are one accrual and one redemption of the same
  amount: the balance ends where it began.
* Every transaction made is remembered (id, eid, kind, amount) before the next call; the
  cleanup (always run) rolls back what is still temporary, resolves eids whose answer was
  lost, and cancels a committed half whose other half failed. The balance is then read again
  and compared; whatever could not be undone is listed for a human, by transaction id.
* A fact is recorded only from an answer that settles it; a lost answer, a 5xx or a
  malformed answer makes the fact "unknown" with the reason.
"""

from __future__ import annotations

import csv
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_altcraft.exceptions import (
    AltcraftApiError,
    AltcraftAuthError,
    AltcraftBadResponseError,
    AltcraftError,
    AltcraftOutcomeUnknownError,
    AltcraftRateLimitError,
    AltcraftServerError,
)
from airflow_provider_altcraft.models import Matching, PointsRequest
from airflow_provider_altcraft.probe import facts as F
from airflow_provider_altcraft.validation import currency_payload

if TYPE_CHECKING:
    import requests

    from airflow_provider_altcraft.hooks.altcraft import AltcraftHook

__all__ = ["ProbeAbort", "ProbeResult", "ProbeRun", "Target"]

REDEEM = "loyalty/redeeme_points"
ACCRUE = "loyalty/accrue_points"
BALANCE = "loyalty/account/balance"
TRANSACTIONS = "loyalty/account/transactions"
EXPIRING = "loyalty/account/expiring_points"
COMMIT = "loyalty/commit_transaction"
ROLLBACK = "loyalty/rollback_transaction"
EXPORT = "loyalty/transactions_export"
TASK_STATUS = "tasks/status"
PAGE = 100
#: A test member's history is short; the probe never pages through more than this.
MAX_PAGES = 20
FINAL_TASK_STATUSES = frozenset(
    {"completed", "success", "failed", "error", "canceled", "cancelled"}
)
STATE_KEYS = ("status", "state", "is_temp")

_EMAIL = re.compile(r"[^@\s'\"<>(),;:]+@[^@\s'\"<>(),;:]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+[0-9][0-9*]{5,}")


class ProbeAbort(Exception):
    """The probe cannot go on (token refused, member unknown): nothing was written."""


class ProbeUnknown(Exception):
    """A question got no answer that settles it: the fact is recorded unknown with this."""


@dataclass(frozen=True)
class Target:
    """Whom the probe works on, and how small its steps are."""

    loyalty_program_id: int
    matching: Matching
    points_currency_iid: int | None = None
    points_currency_eid: str | None = None
    amount: Decimal = Decimal(1)
    temp_timeout_sec: int = 600
    export_timeout_sec: float = 120.0

    def account_payload(self, *, currency: bool = True) -> dict[str, Any]:
        payload: dict[str, Any] = {"loyalty_program_id": self.loyalty_program_id}
        if currency:
            payload.update(currency_payload(self.points_currency_iid, self.points_currency_eid))
        payload.update(self.matching.to_payload())
        return payload

    @property
    def currency_label(self) -> str:
        return self.points_currency_eid or f"currency iid {self.points_currency_iid}"


@dataclass
class Made:
    """A transaction this run made (or may have made)."""

    kind: str  # "accrual" | "redemption"
    amount: Decimal
    eid: str
    transaction_id: str | None = None

    def describe(self, currency: str) -> str:
        ident = self.transaction_id or "id unknown"
        return f"{self.kind} of {self.amount} {currency}: transaction_id {ident}, eid {self.eid}"


@dataclass
class ProbeResult:
    facts: dict[str, F.Fact]
    read_only: bool
    balance_restored: bool | None = None
    nothing_held: bool | None = None
    balance_note: str = ""
    manual: list[str] = field(default_factory=list)
    #: When the balance is not restored: every transaction this run made, for checking.
    transactions: list[str] = field(default_factory=list)
    aborted: str | None = None

    @property
    def ok(self) -> bool:
        if self.aborted is not None or self.manual:
            return False
        return self.read_only or bool(self.balance_restored and self.nothing_held)


def _is_refusal(exc: BaseException) -> bool:
    """An application's answer to the question (not an outage, a 429 or a garbled body)."""
    return isinstance(exc, AltcraftApiError) and not isinstance(
        exc, (AltcraftServerError, AltcraftRateLimitError, AltcraftBadResponseError)
    )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _swap_case(email: str) -> str | None:
    swapped = email.upper() if email != email.upper() else email.lower()
    return None if swapped == email else swapped


class ProbeRun:
    """One run of the probe. :meth:`run` asks every question and always cleans up."""

    def __init__(
        self,
        hook: AltcraftHook,
        target: Target,
        *,
        read_only: bool = False,
        say: Callable[[str], None] = print,
        hook_factory: Callable[[str], AltcraftHook] | None = None,
        poll_interval: float = 0.2,
    ) -> None:
        self.hook = hook
        self.target = target
        self.read_only = read_only
        self.say = say
        self._hook_factory = hook_factory
        self.poll_interval = poll_interval
        self.run_id = uuid.uuid4().hex[:12]
        self.started = datetime.now(timezone.utc)
        self.facts: dict[str, F.Fact] = {}
        self.refusals: list[tuple[int | None, int | None]] = []
        self.amounts: list[str] = []
        self.rate_limits: list[dict[str, Any]] = []
        self.made: list[Made] = []
        self.open_temps: dict[str, Made] = {}  # transaction id -> still temporary
        self.uncertain: dict[str, Made] = {}  # eid -> answer lost, not found yet
        self.committed: list[Made] = []  # permanent now (holder ids)
        self.known_ids: set[str] = set()
        self._commit_attempted: set[str] = set()
        self.manual: list[str] = []
        self._scrubs: dict[str, str] = {}
        self._variant_hooks: list[AltcraftHook] = []
        self._balance_before: tuple[Decimal, Decimal] | None = None
        self._held_rows: list[dict[str, Any]] = []
        self._points_answer_keys: set[str] = set()
        self._observe(hook)
        matching = target.matching
        if isinstance(matching.value, str) and len(matching.value) >= 3:
            self._scrub(matching.value, "<member>")
            if matching.mode == "email":
                swapped = _swap_case(matching.value)
                if swapped:
                    self._scrub(swapped, "<member>")

    # -- plumbing ------------------------------------------------------------------------------

    def _observe(self, hook: AltcraftHook) -> None:
        """See every raw answer (the hook retries a 429 silently)."""

        def on_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            if response.status_code == 429:
                self.rate_limits.append(
                    {"http_status": 429, "retry_after": response.headers.get("Retry-After")}
                )

        hook.session.hooks["response"].append(on_response)

    def _scrub(self, secret: str, placeholder: str) -> None:
        self._scrubs[secret] = placeholder

    def clean(self, text: str) -> str:
        """No e-mail, phone, member value, transaction id or eid of this run in a profile."""
        for secret in sorted(self._scrubs, key=len, reverse=True):
            text = text.replace(secret, self._scrubs[secret])
        text = _EMAIL.sub("<email>", text)
        return _PHONE.sub("<phone>", text)

    def _clean_all(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.clean(value)
        if isinstance(value, list):
            return [self._clean_all(item) for item in value]
        if isinstance(value, dict):
            return {key: self._clean_all(item) for key, item in value.items()}
        return value

    def _call(self, endpoint: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self.hook._call(endpoint, payload, resend_safe=True)

    def _refusal(self, exc: AltcraftApiError) -> dict[str, Any]:
        self.refusals.append((exc.error_code, exc.http_status))
        return {
            "refused": True,
            "error": exc.error_code,
            "http_status": exc.http_status,
            "error_text": self.clean(exc.error_text),
        }

    def _try(
        self, endpoint: str, payload: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(envelope, None) on success, (None, refusal) on an application error."""
        try:
            return self._call(endpoint, payload), None
        except AltcraftApiError as exc:
            if not _is_refusal(exc):
                raise
            return None, self._refusal(exc)

    def _refusal_of(self, endpoint: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """The refusal of a call made to be refused (None: it succeeded)."""
        return self._try(endpoint, payload)[1]

    def _eid(self, step: str) -> str:
        eid = f"altcraft-probe-{self.run_id}-{step}"
        self._scrub(eid, "<transaction_eid>")
        return eid

    def _made_up(self, what: str) -> str:
        value = f"altcraft-probe-{self.run_id}-no-such-{what}"
        self._scrub(value, "<made-up id>")
        return value

    def _note_amounts(self, data: object, keys: Iterable[str]) -> None:
        if isinstance(data, Mapping):
            for key in keys:
                value = data.get(key)
                if isinstance(value, str):
                    self.amounts.append(value)

    def _step(self, produces: tuple[str, ...], action: Callable[[], None]) -> None:
        """Run one question; what it leaves unanswered becomes unknown, with the reason."""
        reason: str | None = None
        try:
            action()
        except ProbeUnknown as exc:
            reason = str(exc)
        except AltcraftError as exc:
            reason = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # an answer nobody foresaw: the run goes on, and cleans up
            reason = f"unexpected {type(exc).__name__}: {exc}"
        for name in produces:
            if name not in self.facts:
                self.facts[name] = F.unknown(
                    self.clean(reason or "the step ended without establishing it")
                )

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> ProbeResult:
        result = ProbeResult(facts=self.facts, read_only=self.read_only)
        try:
            self._preflight()
            self._ask_reads()
            if not self.read_only:
                self._ask_writes()
            self._step((F.TASK_PENDING_STATUS, F.EXPORT_CSV_COLUMNS), self._ask_export)
        except ProbeAbort as exc:
            result.aborted = self.clean(str(exc))
        finally:
            if not self.read_only:
                self._cleanup()
                self._final_check(result)
            for hook in self._variant_hooks:
                hook.close()
        self._derive()
        not_asked = "not probed (--read-only)" if self.read_only else "not probed"
        if result.aborted is not None:
            not_asked = f"not probed (the probe stopped: {result.aborted})"
        for question in F.QUESTIONS:
            if question.name not in self.facts:
                self.facts[question.name] = F.unknown(not_asked)
        result.facts = {q.name: self._clean_all(self.facts[q.name]) for q in F.QUESTIONS}
        result.manual = list(self.manual)
        return result

    def _preflight(self) -> None:
        try:
            self._call(TASK_STATUS, {"task_id": self._made_up("task")})
        except AltcraftAuthError as exc:
            raise ProbeAbort(f"the connection's API token was refused: {exc}") from None
        except AltcraftApiError as exc:
            if not _is_refusal(exc):
                raise ProbeAbort(f"the API does not answer properly: {exc}") from None
            self._refusal(exc)  # "no such task": the token was accepted
        except AltcraftError as exc:
            raise ProbeAbort(f"the API cannot be reached: {exc}") from None
        try:
            self._balance_before = self._balance()
        except (AltcraftError, ProbeUnknown) as exc:
            raise ProbeAbort(f"the member's balance cannot be read: {exc}") from None

    def _balance(self) -> tuple[Decimal, Decimal]:
        envelope = self._call(BALANCE, self.target.account_payload())
        data = envelope.get("data")
        self._note_amounts(data, ("total_balance", "active_balance"))
        try:
            assert isinstance(data, Mapping)
            return Decimal(str(data["total_balance"])), Decimal(str(data["active_balance"]))
        except (AssertionError, KeyError, InvalidOperation):
            raise ProbeUnknown("the balance answer is malformed") from None

    # -- questions answered by reads -------------------------------------------------------------

    def _ask_reads(self) -> None:
        self._step((F.UNKNOWN_MEMBER,), self._ask_unknown_member)
        self._step((F.EMAIL_MATCHING,), self._ask_email_matching)
        self._step((F.CURRENCY_WHEN_OMITTED,), self._ask_currency_omitted)
        self._step((F.AUTH_HEADER,), self._ask_auth_header)
        self._step((F.DATE_ONLY_PERIODS,), self._ask_periods)
        if self.read_only:
            self._step((F.TRANSACTION_FIELDS, F.STATE_FIELD, F.TYPES), self._ask_list_read_only)

    def _ask_unknown_member(self) -> None:
        payload = self.target.account_payload(currency=True)
        for key in ("email", "phone", "field_name", "field_value"):
            payload.pop(key, None)
        payload.update(matching="profile_id", profile_id=self._made_up("member"))
        refusal = self._refusal_of(BALANCE, payload)
        if refusal is None:
            raise ProbeUnknown("a made-up member was not refused (the server answered success)")
        self.facts[F.UNKNOWN_MEMBER] = F.known(refusal)

    def _ask_email_matching(self) -> None:
        matching = self.target.matching
        if matching.mode != "email":
            raise ProbeUnknown("the member is not matched by e-mail")
        swapped = _swap_case(str(matching.value))
        if swapped is None:
            raise ProbeUnknown("the member's e-mail has no letters to change the case of")
        payload = self.target.account_payload()
        payload["email"] = swapped
        refusal = self._refusal_of(BALANCE, payload)
        if refusal is None:
            self.facts[F.EMAIL_MATCHING] = F.known("case_insensitive")
            return
        member = self.facts.get(F.UNKNOWN_MEMBER, {}).get("value") or {}
        if (
            member.get("error") == refusal["error"]
            and member.get("error_text") == refusal["error_text"]
        ):
            self.facts[F.EMAIL_MATCHING] = F.known("exact")
            return
        raise ProbeUnknown(
            f"the e-mail in other letter case was refused unlike an unknown member "
            f"(error {refusal['error']}: {refusal['error_text']})"
        )

    def _ask_currency_omitted(self) -> None:
        refusal = self._refusal_of(BALANCE, self.target.account_payload(currency=False))
        if refusal is None:
            self.facts[F.CURRENCY_WHEN_OMITTED] = F.known("program_default")
        else:
            self.facts[F.CURRENCY_WHEN_OMITTED] = F.known("refuse", refusal=refusal)

    def _variant_hook(self, placement: str) -> AltcraftHook:
        if self._hook_factory is None:
            from airflow_provider_altcraft.hooks.altcraft import AltcraftHook

            hook = AltcraftHook(self.hook.altcraft_conn_id)
        else:
            hook = self._hook_factory(self.hook.altcraft_conn_id)
        hook._overrides["auth_placement"] = placement
        self._variant_hooks.append(hook)
        self._observe(hook)
        return hook

    def _token_refused(self, hook: AltcraftHook) -> bool:
        try:
            hook._call(TASK_STATUS, {"task_id": self._made_up("task")}, resend_safe=True)
        except AltcraftAuthError:
            return True
        except AltcraftApiError as exc:
            if not _is_refusal(exc):
                raise
        return False

    def _ask_auth_header(self) -> None:
        if self._token_refused(self._variant_hook("body")):
            raise ProbeUnknown("the token was refused in the body too")
        refused = self._token_refused(self._variant_hook("header"))
        self.facts[F.AUTH_HEADER] = F.known("refuse" if refused else "accept")

    def _ask_periods(self) -> None:
        today = datetime.now(timezone.utc).date()
        week_ago = today - timedelta(days=7)
        base = self.target.account_payload()
        envelope, refusal = self._try(
            EXPIRING,
            {
                **base,
                "date_from": f"{week_ago.isoformat()}T00:00:00Z",
                "date_to": f"{today.isoformat()}T23:59:59Z",
            },
        )
        if refusal is not None:
            raise ProbeUnknown(f"RFC3339 bounds were refused too: {refusal['error_text']}")
        self._note_amounts(envelope and envelope.get("data"), ("expiring_points",))
        envelope, refusal = self._try(
            EXPIRING, {**base, "date_from": week_ago.isoformat(), "date_to": today.isoformat()}
        )
        if refusal is None:
            self.facts[F.DATE_ONLY_PERIODS] = F.known("accept")
        else:
            self.facts[F.DATE_ONLY_PERIODS] = F.known("refuse", refusal=refusal)

    def _list_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        from_id: str | None = None
        for _ in range(MAX_PAGES):
            payload = {**self.target.account_payload(), "limit": PAGE}
            if from_id is not None:
                payload["from_id"] = from_id
            data = self._call(TRANSACTIONS, payload).get("data")
            if data is None:
                data = []
            if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
                raise ProbeUnknown("the transaction list's data is not a list of objects")
            rows.extend(data)
            last = data[-1].get("transaction_id") if data else None
            if len(data) < PAGE or last is None or str(last) == from_id:
                return rows
            from_id = str(last)
        return rows

    def _record_fields(self, rows: list[dict[str, Any]]) -> None:
        keys = sorted({key for row in rows for key in row})
        self.facts[F.TRANSACTION_FIELDS] = F.known(keys)
        present = [key for key in STATE_KEYS if key in keys]
        has_state = "status" in present or "state" in present
        self.facts[F.STATE_FIELD] = F.known(has_state, fields=present)
        for row in rows:
            self._note_amounts(row, ("amount", "balance_before", "balance_after"))

    def _ask_list_read_only(self) -> None:
        rows = self._list_rows()
        if not rows:
            raise ProbeUnknown("the member has no transactions to look at")
        self._record_fields(rows)
        seen = sorted({str(row.get("transaction_type")) for row in rows})
        self.facts[F.TYPES] = F.known({"seen": seen})

    # -- questions that move points (temporarily) ------------------------------------------------

    def _ask_writes(self) -> None:
        self._step((F.DUPLICATE_EID,), self._ask_duplicate_eid)
        self._step((F.ALREADY_ROLLED_BACK,), self._ask_already_rolled_back)
        self._step((F.UNKNOWN_TRANSACTION,), self._ask_unknown_transaction)
        self._step((F.INSUFFICIENT,), self._ask_insufficient)
        self._step((F.COMMIT_ACCRUAL, F.ALREADY_COMMITTED), self._ask_commit_accrual)
        self._step((F.COMMIT_REDEMPTION,), self._ask_commit_redemption)
        self._step(
            (F.TRANSACTION_FIELDS, F.STATE_FIELD, F.STATES, F.TYPES, F.LIST_ORDER), self._ask_list
        )
        if self._points_answer_keys:
            self.facts[F.POINTS_ANSWER_FIELDS] = F.known(sorted(self._points_answer_keys))
        else:
            self.facts[F.POINTS_ANSWER_FIELDS] = F.unknown("no accrue/redeem answer arrived")

    def _rows_with_eid(self, eid: str) -> list[dict[str, Any]]:
        return [row for row in self._list_rows() if row.get("transaction_eid") == eid]

    def _temp_post(self, operation: str, step: str, amount: Decimal) -> str:
        """Make a temporary transaction; its id is remembered before anything else happens.

        A refusal is raised as is (nothing was made); a lost answer is resolved by looking
        the eid up, else raised as :class:`ProbeUnknown` (the cleanup rolls the eid back)."""
        eid = self._eid(step)
        target = self.target
        request = PointsRequest.build(
            "redeem" if operation == "redemption" else "accrue",
            loyalty_program_id=target.loyalty_program_id,
            amount=amount,
            matching=target.matching,
            points_currency_iid=target.points_currency_iid,
            points_currency_eid=target.points_currency_eid,
            is_temp=True,
            temp_timeout_sec=target.temp_timeout_sec,
            transaction_eid=eid,
        )
        made = Made(operation, amount, eid)
        self.made.append(made)
        self.uncertain[eid] = made
        endpoint = REDEEM if operation == "redemption" else ACCRUE
        try:
            envelope = self.hook._call(
                endpoint, request.to_payload(), resend_safe=False, transaction_eid=eid
            )
        except AltcraftOutcomeUnknownError as exc:
            found = self._find_new(eid)
            if found is None:
                raise ProbeUnknown(
                    f"the {operation}'s answer was lost ({exc.reason}) and its eid is not in "
                    "the member's list"
                ) from None
            transaction_id = found
        except AltcraftApiError as exc:
            if _is_refusal(exc) or isinstance(exc, AltcraftRateLimitError):
                self.uncertain.pop(eid)  # refused or not processed: nothing was made
                self.made.remove(made)
            raise
        else:
            data = envelope.get("data")
            if isinstance(data, Mapping) and data.get("transaction_id") is not None:
                self._points_answer_keys.update(data)
                self._note_amounts(data, ("balance_before", "balance_after"))
                transaction_id = str(data["transaction_id"])
            else:
                found = self._find_new(eid)
                if found is None:
                    raise ProbeUnknown(f"the {operation}'s success answer has no transaction_id")
                transaction_id = found
        self.uncertain.pop(eid, None)
        made.transaction_id = transaction_id
        self._remember_id(transaction_id)
        self.open_temps[transaction_id] = made
        return transaction_id

    def _remember_id(self, transaction_id: str) -> None:
        self.known_ids.add(transaction_id)
        self._scrub(transaction_id, "<transaction_id>")

    def _find_new(self, eid: str) -> str | None:
        """The newest listed transaction under ``eid`` that this run does not know yet."""
        try:
            rows = self._rows_with_eid(eid)
        except AltcraftError as exc:
            raise ProbeUnknown(f"the eid lookup failed: {exc}") from None
        ids = [str(row["transaction_id"]) for row in rows if row.get("transaction_id")]
        new = [i for i in ids if i not in self.known_ids]
        return new[-1] if new else None

    def _rollback(self, transaction_id: str) -> None:
        self.hook.rollback_transaction(transaction_id=transaction_id)
        self.open_temps.pop(transaction_id, None)

    def _ask_duplicate_eid(self) -> None:
        amount = self.target.amount
        first = self._temp_post("accrual", "dup", amount)
        try:
            self._temp_post("accrual", "dup", amount)
        except AltcraftApiError as exc:
            if not _is_refusal(exc):
                raise
            self.facts[F.DUPLICATE_EID] = F.known("refuse", refusal=self._refusal(exc))
        else:
            self.facts[F.DUPLICATE_EID] = F.known("accept")
        finally:
            # While the accruals are held: what a list shows of a temporary transaction.
            try:
                self._held_rows = [
                    row for row in self._list_rows() if row.get("transaction_id") == first
                ]
            except AltcraftError:
                self._held_rows = []
            for transaction_id in [t for t, m in self.open_temps.items() if m.eid.endswith("-dup")]:
                self._rollback(transaction_id)

    def _first_rolled_back(self) -> str:
        rolled = [
            m.transaction_id
            for m in self.made
            if m.eid.endswith("-dup")
            and m.transaction_id
            and m.transaction_id not in self.open_temps
        ]
        if not rolled:
            raise ProbeUnknown("no temporary transaction of this run was rolled back")
        return rolled[0]

    def _ask_already_rolled_back(self) -> None:
        refusal = self._refusal_of(ROLLBACK, {"transaction_id": self._first_rolled_back()})
        self.facts[F.ALREADY_ROLLED_BACK] = F.known(refusal or {"refused": False})

    def _ask_unknown_transaction(self) -> None:
        made_up = str(uuid.uuid4())
        self._scrub(made_up, "<made-up id>")
        refusal = self._refusal_of(ROLLBACK, {"transaction_id": made_up})
        if refusal is None:
            raise ProbeUnknown("rolling back a made-up transaction id succeeded")
        self.facts[F.UNKNOWN_TRANSACTION] = F.known(refusal)

    def _ask_insufficient(self) -> None:
        _, active = self._balance()
        amount = max(active, Decimal(0)) + self.target.amount
        try:
            transaction_id = self._temp_post("redemption", "over", amount)
        except AltcraftApiError as exc:
            if not _is_refusal(exc):
                raise
            self.facts[F.INSUFFICIENT] = F.known(self._refusal(exc))
            return
        self._rollback(transaction_id)
        self.facts[F.INSUFFICIENT] = F.known(
            {"refused": False}, note="a temporary redemption above the balance was accepted"
        )

    def _commit(self, operation: str, step: str, fact: str) -> tuple[str, Made]:
        temp_id = self._temp_post(operation, step, self.target.amount)
        made = self.open_temps[temp_id]
        self._commit_attempted.add(temp_id)
        result = self.hook.commit_transaction(transaction_id=temp_id)
        # Committed: from here on the points have moved.
        self.open_temps.pop(temp_id, None)
        answered: str | None = None
        if result.balance is not None and result.transaction_id:
            answered = str(result.transaction_id)  # a real answer (not a lost one, resent)
        listed: list[str] | None
        try:
            listed = [str(row.get("transaction_id")) for row in self._rows_with_eid(made.eid)]
        except AltcraftError:
            listed = None
        others = [i for i in listed or () if i != temp_id]
        # The list's order is not published: the holder is the id that is not the temporary.
        holder = answered or (others[-1] if others else temp_id if listed else None)
        committed = Made(operation, made.amount, made.eid, holder or temp_id)
        self.committed.append(committed)
        if holder is not None:
            self._remember_id(holder)
        by_answer = None if answered is None else answered != temp_id
        by_list = None if not listed else any(i != temp_id for i in listed)
        if by_answer is None and by_list is None:
            raise ProbeUnknown("the commit's answer was lost and the eid's rows cannot be read")
        if by_answer is not None and by_list is not None and by_answer != by_list:
            raise ProbeUnknown("the commit's answer and the member's list disagree")
        new = by_answer if by_answer is not None else by_list
        self.facts[fact] = F.known("new_transaction" if new else "same_transaction")
        return temp_id, committed

    def _ask_commit_accrual(self) -> None:
        temp_id, _ = self._commit("accrual", "accrual", F.COMMIT_ACCRUAL)
        refusal = self._refusal_of(COMMIT, {"transaction_id": temp_id})
        self.facts[F.ALREADY_COMMITTED] = F.known(refusal or {"refused": False})

    def _ask_commit_redemption(self) -> None:
        if not any(m.kind == "accrual" for m in self.committed):
            raise ProbeUnknown("the matching accrual was not committed, so nothing is redeemed")
        self._commit("redemption", "redemption", F.COMMIT_REDEMPTION)

    def _ask_list(self) -> None:
        rows = self._list_rows()
        own = [row for row in rows if str(row.get("transaction_id")) in self.known_ids]
        if not own:
            raise ProbeUnknown("the member's list shows none of the probe's transactions")
        self._record_fields(own)
        by_id = {str(row.get("transaction_id")): row for row in own}
        position = {str(row.get("transaction_id")): index for index, row in enumerate(rows)}
        made_order = [m.transaction_id for m in self.made if m.transaction_id in position]
        places = [position[str(i)] for i in made_order]
        if len(places) >= 2 and places == sorted(places):
            self.facts[F.LIST_ORDER] = F.known("oldest_first")
        elif len(places) >= 2 and places == sorted(places, reverse=True):
            self.facts[F.LIST_ORDER] = F.known("newest_first")
        else:
            self.facts[F.LIST_ORDER] = F.unknown("the probe's transactions are listed out of order")
        types: dict[str, Any] = {}
        for made in self.committed:
            row = by_id.get(str(made.transaction_id))
            if row is not None:
                types[made.kind] = row.get("transaction_type")
        types["seen"] = sorted({str(row.get("transaction_type")) for row in own})
        self.facts[F.TYPES] = F.known(types)
        if not self.facts[F.STATE_FIELD].get("value"):
            self.facts[F.STATES] = F.unknown("the list reports no state")
            return
        key = "status" if "status" in self.facts[F.STATE_FIELD]["fields"] else "state"
        states: dict[str, Any] = {}
        if self._held_rows:
            states["temporary"] = self._held_rows[0].get(key)
        for made in self.made:
            row = by_id.get(str(made.transaction_id))
            if row is None:
                continue
            if made.eid.endswith("-dup") and "rolled back" not in states:
                states["rolled back"] = row.get(key)
        for made in self.committed:
            temp = next((m for m in self.made if m.eid == made.eid and m.transaction_id), None)
            temp_row = by_id.get(str(temp.transaction_id)) if temp is not None else None
            if temp_row is not None:
                states[f"committed temporary {made.kind}"] = temp_row.get(key)
            holder_row = by_id.get(str(made.transaction_id))
            if holder_row is not None and holder_row is not temp_row:
                states["new transaction of a commit"] = holder_row.get(key)
        self.facts[F.STATES] = F.known(states)

    # -- export --------------------------------------------------------------------------------

    def _ask_export(self) -> None:
        now = datetime.now(timezone.utc)
        payload = {
            "loyalty_program_id": self.target.loyalty_program_id,
            **currency_payload(self.target.points_currency_iid, self.target.points_currency_eid),
            "date_from": _rfc3339(self.started - timedelta(minutes=10)),
            "date_to": _rfc3339(now + timedelta(minutes=1)),
        }
        data = self._call(EXPORT, payload).get("data")
        if not isinstance(data, Mapping) or data.get("task_id") is None:
            raise ProbeUnknown("the export answer has no task_id")
        task_id = str(data["task_id"])
        self._scrub(task_id, "<task_id>")
        statuses: list[str] = []
        status: Mapping[str, Any] = {}
        deadline = time.monotonic() + self.target.export_timeout_sec
        delay = self.poll_interval
        while True:
            answer = self._call(TASK_STATUS, {"task_id": task_id}).get("data")
            status = answer if isinstance(answer, Mapping) else {}
            statuses.append(str(status.get("status", "")))
            if statuses[-1].lower() in FINAL_TASK_STATUSES or time.monotonic() > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)
        pending = [s for s in statuses if s.lower() not in FINAL_TASK_STATUSES]
        if pending:
            self.facts[F.TASK_PENDING_STATUS] = F.known(pending[0])
        final = statuses[-1].lower()
        if final not in ("completed", "success"):
            if not pending:
                self.facts[F.TASK_PENDING_STATUS] = F.unknown(
                    "the export ended before the first status check"
                )
            raise ProbeUnknown(
                f"the export did not complete within {self.target.export_timeout_sec:g} s "
                f"(last status {statuses[-1]!r})"
            )
        if not pending:
            self.facts[F.TASK_PENDING_STATUS] = F.unknown(
                "the export had completed by the first status check"
            )
        result = status.get("result")
        urls = result.get("urls") if isinstance(result, Mapping) else None
        if not isinstance(urls, list) or not urls:
            raise ProbeUnknown("the completed export lists no file")
        with tempfile.TemporaryDirectory(prefix="altcraft-probe-") as tmp:
            path = Path(tmp) / "export.csv"
            self.hook.download_file(str(urls[0]), path)
            # Only the header is read: the rows are other members' transactions too.
            with open(path, encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), None)
        if not header:
            raise ProbeUnknown("the export file is empty (no header row)")
        self.facts[F.EXPORT_CSV_COLUMNS] = F.known([column.strip() for column in header])

    # -- derived facts -------------------------------------------------------------------------

    def _derive(self) -> None:
        if self.refusals:
            pairs = sorted({(code, status) for code, status in self.refusals}, key=str)
            if all(status == 200 for _, status in pairs):
                value = "200"
            elif all(status == code for code, status in pairs):
                value = "mapped"
            else:
                value = "mixed"
            observed = [{"error": code, "http_status": status} for code, status in pairs]
            self.facts[F.APP_ERROR_HTTP_STATUS] = F.known(value, observed=observed)
        elif F.APP_ERROR_HTTP_STATUS not in self.facts:
            self.facts[F.APP_ERROR_HTTP_STATUS] = F.unknown("no application error was seen")
        decimals = [(a, a.partition(".")[2]) for a in self.amounts]
        plain = [a for a, places in decimals if len(places) <= 1]
        padded = [a for a, places in decimals if len(places) >= 2 and a.endswith("0")]
        if plain and not padded:
            self.facts[F.AMOUNT_FORMAT] = F.known("plain")
        elif padded and not plain:
            self.facts[F.AMOUNT_FORMAT] = F.known("padded")
        elif plain and padded:
            self.facts[F.AMOUNT_FORMAT] = F.unknown("amounts are rendered both ways")
        else:
            self.facts[F.AMOUNT_FORMAT] = F.unknown(
                f"none of the {len(self.amounts)} amounts seen tells (e.g. '100.25')"
            )
        if self.rate_limits:
            retry_after = sorted({str(r["retry_after"]) for r in self.rate_limits})
            self.facts[F.RATE_LIMIT] = F.known(
                {"http_status": 429, "retry_after": retry_after}, count=len(self.rate_limits)
            )
        else:
            self.facts[F.RATE_LIMIT] = F.unknown(
                "no HTTP 429 was seen (the probe never provokes one)"
            )

    # -- cleanup -------------------------------------------------------------------------------

    def _cleanup(self) -> None:
        currency = self.target.currency_label
        for transaction_id, made in list(self.open_temps.items()):
            try:
                self._rollback(transaction_id)
                continue
            except AltcraftApiError as exc:
                if not _is_refusal(exc):
                    self.manual.append(self._undo_temp(transaction_id, made))
                    continue
            except AltcraftError:
                self.manual.append(self._undo_temp(transaction_id, made))
                continue
            # Refused: no longer temporary (rolled back or expired already, or committed). A
            # commit whose answer never came may have moved the points: count it as
            # committed, so that the balance is squared below.
            self.open_temps.pop(transaction_id, None)
            if transaction_id not in self._commit_attempted:
                continue
            if any(m.eid == made.eid for m in self.committed):
                continue
            self.committed.append(made)
        for eid, made in list(self.uncertain.items()):
            try:
                self.hook.rollback_transaction(transaction_eid=eid)
            except AltcraftApiError as exc:
                if _is_refusal(exc):  # not found (never made), or already settled
                    self.uncertain.pop(eid)
                    continue
                self.manual.append(
                    f"look up eid {eid} ({made.kind} of {made.amount} {currency}, its answer "
                    "was lost): roll it back if it is there; it rolls back by itself "
                    f"{self.target.temp_timeout_sec} s after it was made"
                )
                continue
            except AltcraftError:
                self.manual.append(
                    f"look up eid {eid} ({made.kind} of {made.amount} {currency}, its answer "
                    "was lost): roll it back if it is there"
                )
                continue
            self.uncertain.pop(eid)
        accrued = sum((m.amount for m in self.committed if m.kind == "accrual"), Decimal(0))
        redeemed = sum((m.amount for m in self.committed if m.kind == "redemption"), Decimal(0))
        if accrued == redeemed:
            return
        # One half is missing: cancel the other one (cancel reverses a permanent transaction).
        for made in self.committed:
            if (made.kind == "accrual") == (accrued > redeemed):
                try:
                    self.hook.cancel_transaction(transaction_id=made.transaction_id)
                except AltcraftError as exc:
                    self.manual.append(
                        f"cancel transaction {made.transaction_id} (permanent {made.kind} of "
                        f"{made.amount} {currency}, eid {made.eid}): the probe's cancel failed "
                        f"({exc})"
                    )

    def _undo_temp(self, transaction_id: str, made: Made) -> str:
        return (
            f"roll back temporary transaction {transaction_id} (temporary {made.kind} of "
            f"{made.amount} {self.target.currency_label}, eid {made.eid}); Altcraft rolls it "
            f"back by itself {self.target.temp_timeout_sec} s after it was made"
        )

    def _final_check(self, result: ProbeResult) -> None:
        before = self._balance_before
        if before is None:
            return
        try:
            after = self._balance()
        except (AltcraftError, ProbeUnknown) as exc:
            result.balance_note = f"the balance could not be read again: {self.clean(str(exc))}"
            self._list_everything(result)
            return
        (total0, active0), (total1, active1) = before, after
        result.balance_restored = total1 == total0 and active1 == active0
        result.nothing_held = (
            (total1 - active1) == (total0 - active0) and not self.open_temps and not self.uncertain
        )
        result.balance_note = (
            f"total {total0} -> {total1}, active {active0} -> {active1} "
            f"({self.target.currency_label})"
        )
        if not (result.balance_restored and result.nothing_held) or self.manual:
            self._list_everything(result)

    def _list_everything(self, result: ProbeResult) -> None:
        """The balance is not what it was (or cannot be read): every transaction of this run,
        so that a human can undo exactly what is left."""
        currency = self.target.currency_label
        for made in self.made + [m for m in self.committed if m not in self.made]:
            permanent = "permanent" if made in self.committed else "temporary"
            result.transactions.append(f"{permanent} {made.describe(currency)}")
