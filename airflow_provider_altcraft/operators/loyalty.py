"""Operators for single loyalty operations: redeem, accrue, commit, rollback, cancel, balance,
register and remove a member.

Exactly once: a redeem or accrue task always sends a ``transaction_eid`` (the one given, or
one derived from dag_id, task_id, run_id and map_index, identical for every retry of the task
instance). A retried task, or one whose eid was given by the DAG author, first looks the eid up
in the member's transactions and returns the transaction it finds instead of sending again.

Matching arguments keep the API's names except one: the profile's e-mail is ``profile_email``.
``email`` is BaseOperator's alert address; an operator argument of that name would take the
``email`` of ``default_args`` as the customer, and send the task's failure e-mails to the
customer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from airflow_provider_altcraft import exceptions, metrics
from airflow_provider_altcraft.compat import AirflowFailException, AirflowSkipException, Context
from airflow_provider_altcraft.eids import derive_transaction_eid
from airflow_provider_altcraft.exceptions import (
    AltcraftApiError,
    AltcraftValidationError,
)
from airflow_provider_altcraft.hooks.altcraft import transaction_reference
from airflow_provider_altcraft.models import Matching, PointsOperation, PointsRequest
from airflow_provider_altcraft.operators.base import (
    MATCHING_ARGUMENTS,
    AltcraftBaseOperator,
    AltcraftEidSettledError,
    check_currency,
    matching_from_arguments,
)
from airflow_provider_altcraft.points_fields import (
    FIELDS_BY_NAME,
    POINTS_FIELDS,
    operator_arguments,
    operator_fields,
    param_docs,
    request_fields,
)
from airflow_provider_altcraft.validation import (
    format_amount,
    parse_datetime,
    parse_positive_int,
)

__all__ = [
    "AltcraftAccruePointsOperator",
    "AltcraftCancelTransactionOperator",
    "AltcraftCommitTransactionOperator",
    "AltcraftGetBalanceOperator",
    "AltcraftRedeemPointsOperator",
    "AltcraftRegisterMemberOperator",
    "AltcraftRemoveMemberOperator",
    "AltcraftRollbackTransactionOperator",
]

#: Error code of a transaction in the wrong state (already committed, expired ...). Altcraft
#: publishes no code for it; 409 is the sandbox's choice. With another code such a task still
#: fails, only after its retries.
STATE_CONFLICT = 409
#: The counter and amount gauge of a redeem/accrue that succeeded.
_POINTS_METRICS: dict[PointsOperation, tuple[str, str]] = {
    "redeem": ("points.redeemed", "points.amount_redeemed"),
    "accrue": ("points.accrued", "points.amount_accrued"),
}
#: The counter of a transaction action that succeeded.
_ACTION_METRICS = {
    "commit": "transaction.committed",
    "rollback": "transaction.rolled_back",
    "cancel": "transaction.cancelled",
}


def _count_failure(name: str, tags: dict[str, str], error: BaseException) -> None:
    """Count a failed operation, tagged with its error class (only the provider's own
    classes by name: a low-cardinality tag that names no one)."""
    kind = type(error)
    is_ours = kind.__module__.startswith("airflow_provider_altcraft")
    metrics.incr(name, tags={**tags, "error": kind.__name__ if is_ours else "other"})


#: The API names of the matching fields (the operators' arguments: ``MATCHING_ARGUMENTS``).
MATCHING_NAMES = tuple(field.name for field in POINTS_FIELDS if field.is_matching)
#: The points operators' arguments that are not request fields.
_COMMON_PARAMS = """
    :param check_existing: look the eid up before sending. Default: when the eid was given,
        or the task is being retried.
    :param altcraft_conn_id: the Airflow connection (type ``altcraft``), templated."""


class _PointsOperator(AltcraftBaseOperator):
    """Redeem or accrue: one money-moving request, sent exactly once.

    The arguments are the fields of ``points_fields.POINTS_FIELDS`` (their ``template_fields``,
    what ``__init__`` stores, :meth:`build`); the ``__init__`` signatures spell them out for
    Airflow and IDEs, and a test keeps them in step with the declaration.
    """

    operation: ClassVar[PointsOperation]
    template_fields: Sequence[str] = ("altcraft_conn_id", *operator_arguments("redeem"))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """The ``:param:`` list of a subclass's docstring comes from ``POINTS_FIELDS`` (its
        ``{points_params}``), so the documented arguments are the declared ones."""
        super().__init_subclass__(**kwargs)
        if cls.__doc__ and "{points_params}" in cls.__doc__:
            listed = param_docs(operator_fields(cls.operation)) + _COMMON_PARAMS
            cls.__doc__ = cls.__doc__.replace("{points_params}", listed)

    template_fields_renderers: ClassVar[dict[str, str]] = {"external_data": "json"}

    def __init__(
        self,
        *,
        loyalty_program_id: int | str,
        amount: Decimal | int | str,
        is_temp: bool | str = False,
        points_currency_iid: int | str | None = None,
        points_currency_eid: str | None = None,
        promotion_id: str | None = None,
        temp_timeout_sec: int | str | None = None,
        transaction_eid: str | None = None,
        external_data: dict[str, Any] | str | None = None,
        created_at: datetime | str | None = None,
        matching: str | None = None,
        profile_email: str | None = None,
        phone: str | None = None,
        profile_id: str | None = None,
        field_name: str | None = None,
        field_value: str | int | None = None,
        check_existing: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._store_arguments(locals())
        self.check_existing = check_existing
        self.check_arguments_at_parse_time()

    def check_static_rules(self, values: Mapping[str, Any]) -> None:
        self._check_currency_given(values)

    def _check_currency_given(self, values: Mapping[str, Any]) -> None:
        """The currency is required here although Altcraft's redeem/accrue take none: the
        eid lookups that keep the task exactly-once must search the transaction's currency."""
        if values.get("points_currency_iid") in (None, "") and values.get(
            "points_currency_eid"
        ) in (None, ""):
            raise AltcraftValidationError(
                "points_currency_eid",
                "is missing (and so is points_currency_iid); the exactly-once eid lookups "
                "(loyalty/account/transactions) search one currency",
                "pass points_currency_eid='<eid>' or points_currency_iid=<iid>, or the "
                "connection's default: points_currency_eid=\"{{ conn."
                f"{self.altcraft_conn_id}.extra_dejson"
                ".get('default_points_currency_eid', '') }}\"",
            )

    def build(self, values: Mapping[str, Any]) -> PointsRequest:
        self._check_currency_given(values)
        return PointsRequest.build(
            self.operation,
            matching=matching_from_arguments(values),
            **{
                declared.name: values[declared.operator_argument]
                for declared in request_fields(self.operation)
            },
        )

    def execute(self, context: Context) -> str:
        request: PointsRequest = self.build_for_execute()
        ti = context["ti"]
        given_eid = request.transaction_eid is not None
        if not given_eid:
            request = request.with_eid(
                derive_transaction_eid(
                    ti.dag_id, ti.task_id, ti.run_id, -1 if ti.map_index is None else ti.map_index
                )
            )
        # A given eid may already have been used by another run (a re-run backfill); a
        # derived one only by an earlier try of this very task instance.
        check_existing = self.check_existing
        if check_existing is None:
            check_existing = given_eid or ti.try_number > 1
        self.log.info(
            "%s %s points for %s in program %s (transaction_eid %s%s)",
            "Redeeming" if self.operation == "redeem" else "Accruing",
            request.amount,
            request.matching.describe(),
            request.loyalty_program_id,
            request.transaction_eid,
            ", temporary" if request.is_temp else "",
        )
        try:
            result = self.hook.send_points_request_once(request, check_existing=check_existing)
        except exceptions.AltcraftOutcomeUnknownError:
            metrics.incr("points.unknown_outcome", tags={"operation": self.operation})
            raise
        except exceptions.AltcraftEidSettledError as exc:
            _count_failure("points.failed", {"operation": self.operation}, exc)
            # As the task-level class, an AirflowFailException: no retry, its name in the log.
            raise AltcraftEidSettledError.from_error(exc) from None
        except Exception as exc:
            _count_failure("points.failed", {"operation": self.operation}, exc)
            raise
        count_name, amount_name = _POINTS_METRICS[self.operation]
        outcome = "already_present" if result.already_existed else "sent"
        metrics.incr(count_name, tags={"outcome": outcome})
        metrics.gauge(amount_name, request.amount)
        self.log.info(
            "Transaction %s %s: balance %s -> %s",
            result.transaction_id,
            "was already in Altcraft" if result.already_existed else "done",
            result.balance_before,
            result.balance_after,
        )
        for key, value in result.to_xcom().items():
            if key != "transaction_id" and value is not None:
                ti.xcom_push(key=key, value=value)
        return result.transaction_id


class AltcraftRedeemPointsOperator(_PointsOperator):
    """Redeem a member's points (``loyalty/redeeme_points``), exactly once.

    Every argument has the name of the API parameter and is templated, except
    ``profile_email``, sent as the API's ``email`` (see the module docstring).

    Returns (XCom ``return_value``) the ``transaction_id``; also pushes ``transaction_eid``,
    ``balance_before`` and ``balance_after`` (strings) and ``already_existed``.

    {points_params}
    """

    operation = "redeem"


class AltcraftAccruePointsOperator(_PointsOperator):
    """Accrue points to a member (``loyalty/accrue_points``), exactly once.

    As :class:`AltcraftRedeemPointsOperator` (the same XComs), plus ``activation_date`` and
    ``expiration_date``.

    {points_params}
    """

    operation = "accrue"
    template_fields: Sequence[str] = ("altcraft_conn_id", *operator_arguments("accrue"))

    def __init__(
        self,
        *,
        activation_date: datetime | str | None = None,
        expiration_date: datetime | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._store_arguments(locals())
        self.check_arguments_at_parse_time()  # the check: every argument is set now


class _TransactionActionOperator(AltcraftBaseOperator):
    """Commit, roll back or cancel one transaction by ``transaction_id`` or ``transaction_eid``."""

    action: ClassVar[str]
    template_fields: Sequence[str] = (
        "altcraft_conn_id",
        "transaction_id",
        "transaction_eid",
    )

    def __init__(
        self,
        *,
        transaction_id: str | None = None,
        transaction_eid: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.transaction_id = transaction_id
        self.transaction_eid = transaction_eid
        self.check_arguments_at_parse_time()

    def build(self, values: Mapping[str, Any]) -> dict[str, str]:
        return transaction_reference(values["transaction_id"], values["transaction_eid"])

    def execute(self, context: Context) -> str | None:
        reference: dict[str, str] = self.build_for_execute()
        self.log.info("%s transaction %s", self.action.capitalize(), reference)
        method = getattr(self.hook, f"{self.action}_transaction")
        try:
            # On a retry, "already committed" (...) may be this task's own earlier try.
            result = method(**reference, retried=context["ti"].try_number > 1)
        except AltcraftApiError as exc:
            _count_failure("transaction.failed", {"action": self.action}, exc)
            if exc.error_code == STATE_CONFLICT:
                # Already committed / rolled back / expired ...: a retry cannot change that.
                raise AirflowFailException(str(exc)) from None
            raise
        except Exception as exc:
            _count_failure("transaction.failed", {"action": self.action}, exc)
            raise
        metrics.incr(_ACTION_METRICS[self.action])
        self.log.info(
            "Transaction %s: active balance now %s", result.transaction_id, result.balance
        )
        if result.balance is not None:
            context["ti"].xcom_push(key="balance", value=format_amount(result.balance))
        sent_id = reference.get("transaction_id")
        if result.transaction_id and sent_id and result.transaction_id != sent_id:
            # Committing a temporary accrual creates a new full transaction (the guide's
            # commit page): the return value is the one now holding the points.
            self.log.info(
                "Transaction %s now holds the points of temporary transaction %s",
                result.transaction_id,
                sent_id,
            )
            context["ti"].xcom_push(key="temporary_transaction_id", value=sent_id)
        return result.transaction_id or sent_id


class AltcraftCommitTransactionOperator(_TransactionActionOperator):
    """Commit a temporary transaction, e.g. ``transaction_id=redeem.output``.

    Committing a transaction that is not temporary (already committed, rolled back, expired)
    fails the task, without retries, with Altcraft's error text: in a DAG's own flow that means
    something else settled the transaction first, or the hold expired before the commit.
    Returns the ``transaction_id``; pushes ``balance`` (the active balance, a string).

    :param transaction_id: the transaction's id (templated), e.g. ``redeem.output``; or
    :param transaction_eid: its external id (templated). One of the two is required.
    :param altcraft_conn_id: the Airflow connection (type ``altcraft``), templated.
    """

    action = "commit"


class AltcraftRollbackTransactionOperator(_TransactionActionOperator):
    """Roll back a temporary transaction, typically with ``trigger_rule="one_failed"``.

    If the transaction reference renders empty (the redeem task failed before producing a
    transaction id), there is nothing to roll back and the task is skipped. Rolling back a
    transaction that is no longer temporary fails without retries, as for the commit.

    :param transaction_id: the transaction's id (templated), e.g. ``redeem.output``; or
    :param transaction_eid: its external id (templated). One of the two is required.
    :param altcraft_conn_id: the Airflow connection (type ``altcraft``), templated.
    """

    action = "rollback"

    def execute(self, context: Context) -> str | None:
        if not self.transaction_id and not self.transaction_eid:
            raise AirflowSkipException("No transaction to roll back: the reference is empty.")
        return super().execute(context)


class AltcraftCancelTransactionOperator(_TransactionActionOperator):
    """Cancel any transaction, temporary or permanent (``loyalty/cancel_transaction``).

    Returns the ``transaction_id``; pushes ``balance`` (the active balance, a string).

    :param transaction_id: the transaction's id (templated), e.g. ``redeem.output``; or
    :param transaction_eid: its external id (templated). One of the two is required.
    :param altcraft_conn_id: the Airflow connection (type ``altcraft``), templated.
    """

    action = "cancel"


class _MemberOperator(AltcraftBaseOperator):
    """An operation on one program member found by matching (every argument templated).

    Subclasses list their arguments with ``{member_params}``: the program and the matching
    arguments, documented from ``POINTS_FIELDS``.
    """

    member_arguments: ClassVar[tuple[str, ...]] = ("loyalty_program_id", *MATCHING_ARGUMENTS)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__doc__ and "{member_params}" in cls.__doc__:
            fields = [FIELDS_BY_NAME[name] for name in ("loyalty_program_id", *MATCHING_NAMES)]
            cls.__doc__ = cls.__doc__.replace("{member_params}", param_docs(fields))

    template_fields: Sequence[str] = ("altcraft_conn_id", *member_arguments)

    def __init__(
        self,
        *,
        loyalty_program_id: int | str,
        matching: str | None = None,
        profile_email: str | None = None,
        phone: str | None = None,
        profile_id: str | None = None,
        field_name: str | None = None,
        field_value: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.loyalty_program_id = loyalty_program_id
        self.matching = matching
        self.profile_email = profile_email
        self.phone = phone
        self.profile_id = profile_id
        self.field_name = field_name
        self.field_value = field_value
        self.check_arguments_at_parse_time()

    def build(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "loyalty_program_id": parse_positive_int(
                values["loyalty_program_id"], "loyalty_program_id"
            ),
            "matching": matching_from_arguments(values),
        }


class AltcraftGetBalanceOperator(_MemberOperator):
    """Read a member's balance; returns ``{"total_balance": str, "active_balance": str}``.

    {member_params}
    :param points_currency_iid: the currency's internal id; or
    :param points_currency_eid: the currency's external id (neither: Altcraft's default).
    :param altcraft_conn_id: the Airflow connection (type ``altcraft``), templated.
    """

    template_fields: Sequence[str] = (
        *_MemberOperator.template_fields,
        "points_currency_iid",
        "points_currency_eid",
    )

    def __init__(
        self,
        *,
        points_currency_iid: int | str | None = None,
        points_currency_eid: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.points_currency_iid = points_currency_iid
        self.points_currency_eid = points_currency_eid
        self.check_arguments_at_parse_time()  # the check: every argument is set now

    def build(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().build(values), **check_currency(values)}

    def execute(self, context: Context) -> dict[str, str]:
        arguments = self.build_for_execute()
        balance = self.hook.get_balance(**arguments)
        self.log.info(
            "Balance of %s: total %s, active %s",
            arguments["matching"].describe(),
            balance.total_balance,
            balance.active_balance,
        )
        return {
            "total_balance": format_amount(balance.total_balance),
            "active_balance": format_amount(balance.active_balance),
        }


class AltcraftRegisterMemberOperator(_MemberOperator):
    """Register a profile in a loyalty program; returns its ``profile_id``.

    {member_params}
    :param registration_date: the registration's time: an aware datetime or RFC3339.
    :param altcraft_conn_id: the Airflow connection (type ``altcraft``), templated.
    """

    template_fields: Sequence[str] = (
        *_MemberOperator.template_fields,
        "registration_date",
    )

    def __init__(self, *, registration_date: datetime | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registration_date = registration_date
        self.check_arguments_at_parse_time()  # the check: every argument is set now

    def build(self, values: Mapping[str, Any]) -> dict[str, Any]:
        arguments = super().build(values)
        if values.get("registration_date") is not None:
            arguments["registration_date"] = parse_datetime(
                values["registration_date"], "registration_date"
            )
        return arguments

    def execute(self, context: Context) -> str:
        arguments = self.build_for_execute()
        matching: Matching = arguments["matching"]
        self.log.info(
            "Registering %s in program %s", matching.describe(), arguments["loyalty_program_id"]
        )
        return self.hook.register_member(**arguments)


class AltcraftRemoveMemberOperator(_MemberOperator):
    """Remove a profile from a loyalty program; returns its ``profile_id``.

    {member_params}
    :param altcraft_conn_id: the Airflow connection (type ``altcraft``), templated.
    """

    def execute(self, context: Context) -> str:
        arguments = self.build_for_execute()
        matching: Matching = arguments["matching"]
        self.log.info(
            "Removing %s from program %s", matching.describe(), arguments["loyalty_program_id"]
        )
        return self.hook.remove_member(**arguments)
