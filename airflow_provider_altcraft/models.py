"""Typed requests and results of the Altcraft loyalty API.

Requests are validated once, when they are built; results are small frozen objects with
``Decimal`` amounts. Readers of server answers are tolerant: a missing optional field becomes
``None`` and fields this module does not know are kept in ``extra`` (Altcraft's field lists
are incomplete). Only the standard library is used, so operators can build requests at DAG
parse time.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from airflow_provider_altcraft.exceptions import AltcraftEidSettledError, AltcraftValidationError
from airflow_provider_altcraft.points_fields import request_fields
from airflow_provider_altcraft.validation import (
    EMAIL_MAX_LENGTH,
    ID_MAX_LENGTH,
    check_text,
    currency_payload,
    format_optional_amount,
    parse_datetime,
    parse_optional_str,
    parse_wire_decimal,
)

MatchingMode = Literal["email", "phone", "profile_id", "custom"]
MATCHING_MODES: tuple[str, ...] = ("email", "phone", "profile_id", "custom")
#: The parameter each matching mode requires (custom also needs field_value).
MATCHING_FIELDS: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "profile_id": "profile_id",
    "custom": "field_name",
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# ASCII digits: \d would take fullwidth and Arabic-Indic digits.
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
#: A custom field's int value must fit a signed 64-bit integer.
_FIELD_VALUE_INT_MAX = 2**63 - 1
_MATCHING_HELP = (
    "build it with Matching.by_email(...), Matching.by_phone(...), Matching.by_profile_id(...) "
    "or Matching.by_custom_field(...)"
)


def mask_email(email: str) -> str:
    """``ann@example.com`` -> ``a***@example.com``: enough to tell rows apart in a log."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str) -> str:
    """``+15550000001`` -> ``+15*******01``."""
    return phone[:3] + "*" * max(len(phone) - 5, 0) + phone[-2:]


_EMAIL_IN_TEXT = re.compile(r"[^@\s'\"<>(),;:]+@[^@\s'\"<>(),;:]+\.[A-Za-z]{2,}")
_PHONE_IN_TEXT = re.compile(r"\+[1-9]\d{6,14}")


def mask_personal_data(text: str) -> str:
    """Mask e-mails and phones in free text (a server's error text may quote the request)."""
    text = _EMAIL_IN_TEXT.sub(lambda match: mask_email(match.group()), text)
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group()), text)


@dataclass(frozen=True)
class Matching:
    """How Altcraft finds the profile: one of the four documented matching modes.

    Build it with :meth:`from_params` (validates) or the shortcuts :meth:`by_email`,
    :meth:`by_phone`, :meth:`by_profile_id`, :meth:`by_custom_field`. Building it directly
    validates too: every value is checked whichever way it comes (control characters, padding
    and lengths included: e-mail at most 254 characters, the others at most 255).
    """

    mode: MatchingMode
    value: str | int
    field_name: str | None = None

    def __post_init__(self) -> None:
        _check_matching(self.mode, self.value, self.field_name, "email")

    @classmethod
    def check(cls, value: object, parameter: str = "matching") -> Matching:
        """``value`` if it is a :class:`Matching`; a clear refusal of anything else (a dict, an
        e-mail string), before any request: the hook methods take a built Matching."""
        if isinstance(value, Matching):
            return value
        raise AltcraftValidationError(
            parameter, f"type {type(value).__name__} is not a Matching", _MATCHING_HELP
        )

    @classmethod
    def from_values(cls, values: Mapping[str, Any], *, email_key: str = "email") -> Matching:
        """The matching named by operator arguments or a batch row's columns.

        Operators take the e-mail as ``profile_email`` (``email_key``); rows use the API's
        ``email``.
        """
        return cls.from_params(
            values.get("matching"),
            email=values.get(email_key),
            phone=values.get("phone"),
            profile_id=values.get("profile_id"),
            field_name=values.get("field_name"),
            field_value=values.get("field_value"),
            email_argument=email_key,
        )

    @classmethod
    def from_params(
        cls,
        matching: object = None,
        *,
        email: object = None,
        phone: object = None,
        profile_id: object = None,
        field_name: object = None,
        field_value: object = None,
        email_argument: str = "email",
    ) -> Matching:
        """Validate the matching arguments as a DAG author writes them.

        ``matching`` may be omitted when exactly one of email / phone / profile_id /
        field_name is given. Arguments that belong to another mode are refused rather than
        silently ignored: a contradiction usually means the wrong column was mapped.
        ``email_argument`` is what error messages call ``email`` (the operators take it as
        ``profile_email``).
        """
        given = {
            "email": email,
            "phone": phone,
            "profile_id": profile_id,
            "field_name": field_name,
            "field_value": field_value,
        }

        def argument(name: str) -> str:
            return email_argument if name == "email" else name

        present = [name for name, value in given.items() if value is not None]
        accepted_modes = "one of " + ", ".join(repr(mode) for mode in MATCHING_MODES)
        if matching is None:
            candidates = [m for m in MATCHING_MODES if given[MATCHING_FIELDS[m]] is not None]
            if len(candidates) != 1:
                raise AltcraftValidationError(
                    "matching",
                    "is not given and cannot be inferred"
                    + (f" (got {', '.join(map(argument, present))})" if present else ""),
                    f"set matching to {accepted_modes} with the field that mode requires",
                )
            matching = candidates[0]
        if not isinstance(matching, str) or matching not in MATCHING_MODES:
            shown = repr(matching) if isinstance(matching, str) else type(matching).__name__
            raise AltcraftValidationError(
                "matching", f"{shown[:60]} is not a matching mode", f"use {accepted_modes}"
            )
        mode: MatchingMode = matching  # type: ignore[assignment]
        allowed = {"field_name", "field_value"} if mode == "custom" else {MATCHING_FIELDS[mode]}
        for name in present:
            if name not in allowed:
                raise AltcraftValidationError(
                    argument(name),
                    f"is set but matching is {mode!r}",
                    f"with matching={mode!r} pass only "
                    + " and ".join(sorted(map(argument, allowed))),
                )
        if mode == "email":
            return cls.by_email(email, argument=email_argument)
        if mode == "phone":
            return cls.by_phone(phone)
        if mode == "profile_id":
            return cls.by_profile_id(profile_id)
        return cls.by_custom_field(field_name, field_value)

    @classmethod
    def by_email(cls, email: object, *, argument: str = "email") -> Matching:
        _check_matching("email", email, None, argument)
        return cls("email", email)  # type: ignore[arg-type]  # checked: a str

    @classmethod
    def by_phone(cls, phone: object) -> Matching:
        _check_matching("phone", phone, None, "email")
        return cls("phone", phone)  # type: ignore[arg-type]  # checked: a str

    @classmethod
    def by_profile_id(cls, profile_id: object) -> Matching:
        if isinstance(profile_id, int) and not isinstance(profile_id, bool):
            profile_id = str(profile_id)
        _check_matching("profile_id", profile_id, None, "email")
        return cls("profile_id", profile_id)  # type: ignore[arg-type]  # checked: a str

    @classmethod
    def by_custom_field(cls, field_name: object, field_value: object) -> Matching:
        _check_matching("custom", field_value, field_name, "email")
        return cls("custom", field_value, field_name=field_name)  # type: ignore[arg-type]

    def to_payload(self) -> dict[str, Any]:
        if self.mode == "custom":
            return {"matching": "custom", "field_name": self.field_name, "field_value": self.value}
        return {"matching": self.mode, self.mode: self.value}

    def describe(self) -> str:
        """A log-safe description: emails and phones are masked."""
        if self.mode == "email":
            return f"email {mask_email(str(self.value))}"
        if self.mode == "phone":
            return f"phone {mask_phone(str(self.value))}"
        if self.mode == "custom":
            return f"custom field {self.field_name}"
        return f"profile_id {self.value}"


def _check_matching(mode: object, value: object, field_name: object, email_argument: str) -> None:
    """Every check of a matching's parts; errors name the argument (``email_argument`` is
    what the e-mail is called: ``profile_email`` for the operators, a column for a batch)."""
    if not isinstance(mode, str) or mode not in MATCHING_MODES:
        raise AltcraftValidationError(
            "matching",
            f"{type(mode).__name__ if not isinstance(mode, str) else repr(mode[:40])} "
            "is not a matching mode",
            "use one of " + ", ".join(repr(name) for name in MATCHING_MODES),
        )
    if mode != "custom" and field_name is not None:
        raise AltcraftValidationError(
            "field_name", f"is set but matching is {mode!r}", "only matching='custom' uses it"
        )
    if mode == "email":
        accepted = "matching='email' needs an address such as 'user@example.com'"
        if value is None:
            raise AltcraftValidationError(email_argument, "is missing", accepted)
        if not isinstance(value, str):
            raise AltcraftValidationError(
                email_argument, f"type {type(value).__name__} is not an email address", accepted
            )
        if len(value) > EMAIL_MAX_LENGTH:
            raise AltcraftValidationError(
                email_argument,
                f"is {len(value)} characters long",
                f"an address has at most {EMAIL_MAX_LENGTH} characters (RFC 5321)",
            )
        check_text(value, email_argument, accepted)
        if not _EMAIL.fullmatch(value):
            raise AltcraftValidationError(email_argument, "is not an email address", accepted)
    elif mode == "phone":
        accepted = "matching='phone' needs '+' and 7 to 15 digits, e.g. '+1234567890'"
        if value is None:
            raise AltcraftValidationError("phone", "is missing", accepted)
        if not isinstance(value, str):
            raise AltcraftValidationError(
                "phone", f"type {type(value).__name__} is not a phone number", accepted
            )
        if len(value) > 16:
            raise AltcraftValidationError("phone", f"is {len(value)} characters long", accepted)
        check_text(value, "phone", accepted)
        if not _PHONE.fullmatch(value):
            raise AltcraftValidationError("phone", "is not in international format", accepted)
    elif mode == "profile_id":
        if value is None:
            raise AltcraftValidationError(
                "profile_id", "is missing", "matching='profile_id' needs the profile id string"
            )
        parse_optional_str(value, "profile_id")
    else:
        if field_name is None:
            raise AltcraftValidationError(
                "field_name", "is missing", "matching='custom' needs field_name and field_value"
            )
        parse_optional_str(field_name, "field_name")
        accepted = (
            f"matching='custom' needs field_value as a non-empty string of at most "
            f"{ID_MAX_LENGTH} characters or an int"
        )
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise AltcraftValidationError(
                "field_value",
                "is missing" if value is None else f"type {type(value).__name__} is not accepted",
                accepted,
            )
        if isinstance(value, int):
            if abs(value) > _FIELD_VALUE_INT_MAX:
                raise AltcraftValidationError(
                    "field_value", "is too large for a 64-bit integer", accepted
                )
        else:
            parse_optional_str(value, "field_value")


PointsOperation = Literal["redeem", "accrue"]


@dataclass(frozen=True)
class PointsRequest:
    """A validated redeem or accrue request (the body of ``loyalty/redeeme_points`` /
    ``loyalty/accrue_points`` minus the token).

    Its fields are declared in :data:`~airflow_provider_altcraft.points_fields.POINTS_FIELDS`
    (parser, default, wire form); the attributes below repeat them for type checkers, and a
    test keeps both in step.
    """

    operation: PointsOperation
    loyalty_program_id: int
    amount: Decimal
    matching: Matching
    points_currency_iid: int | None = None
    points_currency_eid: str | None = None
    promotion_id: str | None = None
    is_temp: bool = False
    temp_timeout_sec: int | None = None
    created_at: datetime | None = None
    transaction_eid: str | None = None
    external_data: dict[str, Any] | None = None
    activation_date: datetime | None = None
    expiration_date: datetime | None = None

    @classmethod
    def build(
        cls, operation: PointsOperation, *, matching: Matching, **arguments: object
    ) -> PointsRequest:
        """Validate raw arguments (as a DAG author or a CSV row gives them).

        ``arguments`` are the request's fields by name (``points_fields.POINTS_FIELDS``: each
        is read by its parser, a missing optional one takes its default), then the rules that
        join fields are checked.
        """
        known = {declared.name: declared for declared in request_fields()}
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            raise TypeError(f"PointsRequest.build() got unexpected keyword arguments {unknown}")
        missing = [
            name for name, declared in known.items() if declared.required and name not in arguments
        ]
        if missing:
            raise TypeError(f"PointsRequest.build() is missing keyword arguments {missing}")
        if operation == "redeem":
            for name, declared in known.items():
                if declared.accrue_only and arguments.get(name) is not None:
                    raise AltcraftValidationError(
                        name, "is set on a redemption", "only accrued points have activation/expiry"
                    )
        # Named together: a points currency is one of its two ids, never both.
        currency_payload(arguments.get("points_currency_iid"), arguments.get("points_currency_eid"))
        values: dict[str, Any] = {}
        for declared in request_fields(operation):
            assert declared.parse is not None  # request fields have parsers (matching has none)
            values[declared.name] = declared.parse(
                arguments.get(declared.name, declared.default), declared.name
            )
        if values["temp_timeout_sec"] is not None and not values["is_temp"]:
            raise AltcraftValidationError(
                "temp_timeout_sec",
                "is set but is_temp is False",
                "set is_temp=True for a temporary transaction, or drop temp_timeout_sec",
            )
        activation, expiration = values.get("activation_date"), values.get("expiration_date")
        if activation and expiration and expiration <= activation:
            raise AltcraftValidationError(
                "expiration_date",
                "is not after activation_date",
                "points must activate before they expire",
            )
        return cls(operation=operation, matching=matching, **values)

    def with_eid(self, transaction_eid: str) -> PointsRequest:
        return dataclasses.replace(self, transaction_eid=transaction_eid)

    def to_payload(self) -> dict[str, Any]:
        """The JSON body: amounts as strings, dates as RFC3339 UTC, optional fields omitted
        (in ``POINTS_FIELDS`` order, the matching fields last)."""
        payload: dict[str, Any] = {}
        for declared in request_fields():
            value = getattr(self, declared.name)
            if value is not None:
                payload[declared.name] = value if declared.wire is None else declared.wire(value)
        payload.update(self.matching.to_payload())
        return payload


# ---------------------------------------------------------------------------------------------
# Results


def _decimal_or_none(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    number = parse_wire_decimal(value, key)
    if not number.is_finite():
        raise ValueError(f"field {key!r} is not a finite decimal: {value!r}")
    return number


def _required_id(data: Mapping[str, Any], key: str) -> str:
    """An id the answer must carry: a non-empty string or number (never "None")."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise ValueError(f"the answer has no usable {key!r} ({value!r})")
    return str(value)


def _datetime_or_none(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if not value:
        return None
    try:
        return parse_datetime(value, key)
    except AltcraftValidationError:
        return None  # tolerate a format Altcraft did not document rather than fail a read


def _str_or_none(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _extra(data: Mapping[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in known}


@dataclass(frozen=True)
class PointsTransaction:
    """Result of a redeem or accrue: ``data`` of the response.

    ``already_existed`` is True when the transaction was found by its ``transaction_eid``
    instead of being sent (a retry of a request that had been applied).
    """

    transaction_id: str
    balance_before: Decimal | None
    balance_after: Decimal | None
    transaction_eid: str | None = None
    already_existed: bool = False
    #: False when the transaction was found by its eid and Altcraft reported no state for it
    #: (it publishes none): it exists, but whether it was later rolled back cannot be known.
    state_known: bool = True

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], transaction_eid: str | None) -> PointsTransaction:
        return cls(
            transaction_id=_required_id(data, "transaction_id"),
            balance_before=_decimal_or_none(data, "balance_before"),
            balance_after=_decimal_or_none(data, "balance_after"),
            transaction_eid=transaction_eid,
        )

    def to_xcom(self) -> dict[str, str | bool | None]:
        """JSON-safe: amounts as strings."""
        return {
            "transaction_id": self.transaction_id,
            "transaction_eid": self.transaction_eid,
            "balance_before": format_optional_amount(self.balance_before),
            "balance_after": format_optional_amount(self.balance_after),
            "already_existed": self.already_existed,
            "state_known": self.state_known,
        }


@dataclass(frozen=True)
class TransactionResult:
    """Result of commit / rollback / cancel: ``balance`` is the active balance after it.

    Both are None when the answer was lost and a retry was refused as "already done": the
    change happened, but Altcraft's answer to it never arrived.
    """

    transaction_id: str | None
    balance: Decimal | None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> TransactionResult:
        return cls(str(data["transaction_id"]), _decimal_or_none(data, "balance"))


@dataclass(frozen=True)
class Balance:
    total_balance: Decimal
    active_balance: Decimal

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Balance:
        return cls(
            parse_wire_decimal(data["total_balance"], "total_balance"),
            parse_wire_decimal(data["active_balance"], "active_balance"),
        )


@dataclass(frozen=True)
class AccountTransaction:
    """One entry of ``loyalty/account/transactions``."""

    transaction_id: str
    transaction_eid: str | None
    created_at: datetime | None
    transaction_type: str | None
    amount: Decimal | None
    balance_before: Decimal | None
    balance_after: Decimal | None
    promo_iid: int | None = None
    promo_eid: str | None = None
    description: str | None = None
    activation_date: datetime | None = None
    expiration_date: datetime | None = None
    source_type: str | None = None
    source_iid: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = (
        "transaction_id", "transaction_eid", "created_at", "transaction_type", "amount",
        "balance_before", "balance_after", "promo_iid", "promo_eid", "description",
        "activation_date", "expiration_date", "source_type", "source_iid",
    )  # fmt: skip

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AccountTransaction:
        return cls(
            transaction_id=_required_id(data, "transaction_id"),
            transaction_eid=_str_or_none(data, "transaction_eid") or None,
            created_at=_datetime_or_none(data, "created_at"),
            transaction_type=_str_or_none(data, "transaction_type"),
            amount=_decimal_or_none(data, "amount"),
            balance_before=_decimal_or_none(data, "balance_before"),
            balance_after=_decimal_or_none(data, "balance_after"),
            promo_iid=data.get("promo_iid"),
            promo_eid=_str_or_none(data, "promo_eid"),
            description=_str_or_none(data, "description"),
            activation_date=_datetime_or_none(data, "activation_date"),
            expiration_date=_datetime_or_none(data, "expiration_date"),
            source_type=_str_or_none(data, "source_type"),
            source_iid=data.get("source_iid"),
            extra=_extra(data, cls._KNOWN),
        )

    @property
    def status(self) -> str | None:
        """Transaction state when the server reports one (Altcraft publishes no such field;
        the sandbox adds it with ``unpublished_fields``)."""
        value = self.extra.get("status")
        return None if value is None else str(value).lower()

    def as_points_transaction(self) -> PointsTransaction:
        return PointsTransaction(
            transaction_id=self.transaction_id,
            balance_before=self.balance_before,
            balance_after=self.balance_after,
            transaction_eid=self.transaction_eid,
            already_existed=True,
            state_known=self.status is not None,
        )


#: States (reported by the sandbox; Altcraft documents none) in which a transaction no longer
#: holds or moves points: its eid cannot be applied again.
SETTLED_STATES = frozenset({"rolled_back", "cancelled", "canceled", "expired"})


def eid_holder(eid: str, transactions: Sequence[AccountTransaction]) -> AccountTransaction | None:
    """Of a member's transactions carrying ``eid`` (in list order), the one that holds the
    points, or None when there is none.

    That is the last one: committing a temporary accrual adds a new full transaction under
    the same eid (the guide's commit page), after the temporary one. Raises
    :class:`AltcraftEidSettledError` when it reports a settled state (rolled back, cancelled,
    expired). With no state reported it is taken as live (``state_known`` False): sending the
    eid again could move the points twice, and Altcraft offers no way to tell.
    """
    if not transactions:
        return None
    holder = transactions[-1]
    if holder.status in SETTLED_STATES:
        raise AltcraftEidSettledError(eid, holder.transaction_id, holder.status)
    return holder


@dataclass(frozen=True)
class ProfileTier:
    tiers_group_type: str | None
    tier_eid: str | None
    tier_id: int | None
    tier_order: int | None
    reached_at: datetime | None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ProfileTier:
        known = ("tiers_group_type", "tier_eid", "tier_id", "tier_order", "reached_at")
        return cls(
            tiers_group_type=_str_or_none(data, "tiers_group_type"),
            tier_eid=_str_or_none(data, "tier_eid"),
            tier_id=data.get("tier_id"),
            tier_order=data.get("tier_order"),
            reached_at=_datetime_or_none(data, "reached_at"),
            extra=_extra(data, known),
        )


@dataclass(frozen=True)
class Promotion:
    id: int
    name: str | None
    description: str | None
    external_id: str | None
    start_date: datetime | None
    end_date: datetime | None
    is_active: bool | None
    redeem_rules: list[Any] = field(default_factory=list)
    accrual_rules: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Promotion:
        known = (
            "id", "name", "description", "external_id", "start_date", "end_date", "is_active",
            "redeem_rules", "accrual_rules",
        )  # fmt: skip
        return cls(
            id=int(data["id"]),
            name=_str_or_none(data, "name"),
            description=_str_or_none(data, "description"),
            external_id=_str_or_none(data, "external_id"),
            start_date=_datetime_or_none(data, "start_date"),
            end_date=_datetime_or_none(data, "end_date"),
            is_active=data.get("is_active"),
            redeem_rules=list(data.get("redeem_rules") or []),
            accrual_rules=list(data.get("accrual_rules") or []),
            extra=_extra(data, known),
        )


@dataclass(frozen=True)
class PromotionsPage:
    promotions: list[Promotion]
    next_from_id: int | None
    total_count: int | None


@dataclass(frozen=True)
class TaskStatus:
    """``tasks/status`` of an asynchronous task such as a transactions export."""

    task_id: str
    status: str
    progress: int | None
    urls: list[str]
    total: int | None
    #: ``result.errors``: an array in the guide (an older ``0`` reads as none).
    errors: list[Any] = field(default_factory=list)
    error_text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    #: "success" is what older Altcraft docs call "completed". The value of a task still
    #: running is unpublished: any status that is neither final is taken as pending (the
    #: waits have a timeout).
    COMPLETED = ("completed", "success")
    FAILED = ("failed", "error", "canceled", "cancelled")

    @classmethod
    def from_wire(cls, task_id: str, data: Mapping[str, Any]) -> TaskStatus:
        result = data.get("result") or {}
        return cls(
            task_id=task_id,
            status=str(data.get("status", "")).lower(),
            progress=data.get("progress"),
            urls=[str(url) for url in result.get("urls") or []],
            total=result.get("total"),
            errors=_errors(result.get("errors")),
            error_text=_str_or_none(data, "error_text") or _str_or_none(result, "error"),
            extra=_extra(data, ("status", "progress", "result")),
        )

    @property
    def is_completed(self) -> bool:
        """Completed without errors (a completed task that reports errors is failed: its
        result may be partial)."""
        return self.status in self.COMPLETED and not self.errors

    @property
    def is_failed(self) -> bool:
        return self.status in self.FAILED or (self.status in self.COMPLETED and bool(self.errors))


def _errors(value: object) -> list[Any]:
    if value in (None, 0, "", "0"):
        return []
    return list(value) if isinstance(value, list) else [value]
