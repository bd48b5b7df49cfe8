"""``AltcraftHook``: the Altcraft loyalty API (v1.1), one typed method per endpoint.

The transport (connection, session, the call loop and its retry decision) is
:class:`~airflow_provider_altcraft.hooks.transport.AltcraftBaseHook`; every method here says
whether its request is safe to send again (``resend_safe``). Redeem and accrue are not: after
an unknown outcome :meth:`AltcraftHook.send_points_request_once` looks the transaction up by
its ``transaction_eid`` instead of sending it again.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from airflow_provider_altcraft import storage
from airflow_provider_altcraft.connection_fields import (
    HIDDEN_FIELDS,
    PLACEHOLDERS,
    RELABELING,
    connection_form_widgets,
)
from airflow_provider_altcraft.exceptions import (
    AltcraftApiError,
    AltcraftAuthError,
    AltcraftBadResponseError,
    AltcraftConfigError,
    AltcraftEidSettledError,
    AltcraftError,
    AltcraftOutcomeUnknownError,
    AltcraftRateLimitError,
    AltcraftServerError,
    AltcraftTransportError,
    AltcraftValidationError,
)
from airflow_provider_altcraft.hooks.transport import (
    SANDBOX_HEADER_NAME,
    AltcraftBaseHook,
    _data_list,
    _data_object,
    _describe_transport_error,
)
from airflow_provider_altcraft.models import (
    AccountTransaction,
    Balance,
    Matching,
    PointsOperation,
    PointsRequest,
    PointsTransaction,
    ProfileTier,
    Promotion,
    PromotionsPage,
    TaskStatus,
    TransactionResult,
    eid_holder,
)
from airflow_provider_altcraft.periods import Period
from airflow_provider_altcraft.points_fields import Operation, param_docs, request_fields
from airflow_provider_altcraft.validation import (
    check_output_path,
    currency_payload,
    format_rfc3339,
    parse_bool,
    parse_datetime,
    parse_limit,
    parse_optional_positive_int,
    parse_optional_str,
    parse_positive_int,
    parse_wire_decimal,
)

if TYPE_CHECKING:
    from airflow_provider_altcraft.server_profile import ServerProfile

#: How a refused resend of a state change says "this already happened" (see
#: ``_transaction_action``), per endpoint, lower case.
__all__ = [
    "ALREADY_DONE_PHRASES",
    "CONNECTION_OK",
    "CONNECTION_OK_SANDBOX",
    "SANDBOX_HEADER_NAME",
    "AltcraftHook",
    "transaction_reference",
]

ALREADY_DONE_PHRASES: dict[str, tuple[str, ...]] = {
    "loyalty/commit_transaction": ("already committed",),
    "loyalty/rollback_transaction": ("already rolled back",),
    "loyalty/cancel_transaction": ("already cancelled", "already canceled"),
}
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
CONNECTION_OK = "Connection OK: Altcraft answered and accepted the token."
CONNECTION_OK_SANDBOX = (
    "Connection OK, but it points at the altcraft-sandbox, not Altcraft: nothing sent through "
    "it moves real points."
)
#: Sent by test_connection, which expects Altcraft to refuse it.
CONNECTION_TEST_INVALID_TOKEN = "airflow-connection-test-invalid-token"
ACCOUNT_TRANSACTIONS_PAGE_MAX = 100

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _documents_fields(operation: Operation) -> Callable[[_Method], _Method]:
    """Put the ``:param:`` lines of ``operation``'s request fields (``POINTS_FIELDS``) where
    the method's docstring says ``{points_params}``: documented once, as declared."""

    def document(method: _Method) -> _Method:
        listed = param_docs(request_fields(operation), hook=True, indent=8)
        method.__doc__ = (method.__doc__ or "").replace("{points_params}", listed)
        return method

    return document


class AltcraftHook(AltcraftBaseHook):
    """Talks to the Altcraft Platform loyalty API.

    :param altcraft_conn_id: an Airflow connection of type ``altcraft``: host = the account's
        base URL (``https://<domain>``), password = the API token; extras tune timeouts,
        TLS, retries and rate (see docs/connection.md).
    :param pool_maxsize: keep-alive connections to keep (default: the connection's extra).
    :param max_requests_per_second: a client-side rate cap for this hook (default: the
        connection's extra; none).
    """

    conn_name_attr = "altcraft_conn_id"
    default_conn_name = "altcraft_default"
    conn_type = "altcraft"
    hook_name = "Altcraft"

    @cached_property
    def server_profile(self) -> ServerProfile:
        """The facts ``altcraft-probe`` measured on this account (the connection's extra
        ``server_profile``); without one every fact is unknown and the defaults hold."""
        from airflow_provider_altcraft.server_profile import ProfileError, load_profile

        try:
            return load_profile(self.settings.server_profile)
        except ProfileError as exc:
            raise AltcraftConfigError(
                f"Connection {self.altcraft_conn_id!r}: extra 'server_profile': {exc}"
            ) from None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form layout for Airflow < 3.2 (3.2+ reads it from the provider info)."""
        return {
            "hidden_fields": HIDDEN_FIELDS,
            "relabeling": RELABELING,
            "placeholders": PLACEHOLDERS,
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the form for Airflow < 3.2 (3.2+ reads them from the provider info)."""
        return connection_form_widgets()

    def test_connection(self) -> tuple[bool, str]:
        """Two cheap reads (the status of a task id that does not exist).

        The connection's token must be accepted and a made-up one refused: a wrong host or
        path answers both alike (e.g. 404), so one read alone would pass any web server.

        :return: whether the connection works, and a sentence saying so or why not.
        """
        try:
            refusal = self._token_refusal(None)
            if refusal is not None:
                return False, refusal
            if self._token_refusal(CONNECTION_TEST_INVALID_TOKEN) is None:
                return False, (
                    f"{self.settings.base_url} answered without checking the API token, so it "
                    "is not the Altcraft API; set the host to the account's base URL"
                )
        except AltcraftError as exc:
            return False, str(exc)
        return True, CONNECTION_OK_SANDBOX if self.answered_by_sandbox else CONNECTION_OK

    def _token_refusal(self, token: str | None) -> str | None:
        """Why a harmless read with ``token`` (default: the connection's) was refused, or None
        when the token was accepted; an answer that is not the API's raises."""
        try:
            self._call(
                "tasks/status",
                {"task_id": "airflow-connection-test"},
                resend_safe=True,
                token=token,
            )
        except AltcraftAuthError as exc:
            return str(exc)
        except (AltcraftBadResponseError, AltcraftRateLimitError, AltcraftServerError):
            raise  # not the API's answer, or one that says nothing about the token
        except AltcraftApiError:
            pass  # any other refusal came after the token was accepted
        return None

    # -- points -------------------------------------------------------------------------------

    @_documents_fields("redeem")
    def redeem_points(
        self,
        *,
        loyalty_program_id: int,
        amount: Decimal | int | str,
        matching: Matching,
        points_currency_iid: int | None = None,
        points_currency_eid: str | None = None,
        promotion_id: str | None = None,
        is_temp: bool = False,
        temp_timeout_sec: int | None = None,
        created_at: datetime | str | None = None,
        transaction_eid: str | None = None,
        external_data: dict[str, Any] | None = None,
    ) -> PointsTransaction:
        """Redeem points (``loyalty/redeeme_points``); never re-sent blindly (see
        :meth:`send_points_request`).

        The arguments are those of docs/parameters.md (checked before any request):

        {points_params}
        :return: the transaction Altcraft made.
        """
        return self._send_points("redeem", locals())

    @_documents_fields("accrue")
    def accrue_points(
        self,
        *,
        loyalty_program_id: int,
        amount: Decimal | int | str,
        matching: Matching,
        points_currency_iid: int | None = None,
        points_currency_eid: str | None = None,
        promotion_id: str | None = None,
        is_temp: bool = False,
        temp_timeout_sec: int | None = None,
        created_at: datetime | str | None = None,
        transaction_eid: str | None = None,
        external_data: dict[str, Any] | None = None,
        activation_date: datetime | str | None = None,
        expiration_date: datetime | str | None = None,
    ) -> PointsTransaction:
        """Accrue points (``loyalty/accrue_points``); never re-sent blindly (see
        :meth:`send_points_request`).

        The arguments are those of docs/parameters.md (checked before any request):

        {points_params}
        :return: the transaction Altcraft made.
        """
        return self._send_points("accrue", locals())

    def _send_points(
        self, operation: PointsOperation, arguments: dict[str, Any]
    ) -> PointsTransaction:
        """Behind :meth:`redeem_points` and :meth:`accrue_points`: their arguments (their
        ``locals()``) become a validated :class:`PointsRequest`, sent once."""
        values = {name: value for name, value in arguments.items() if name != "self"}
        values["matching"] = Matching.check(values["matching"])
        return self.send_points_request(PointsRequest.build(operation, **values))

    def send_points_request(self, request: PointsRequest) -> PointsTransaction:
        """Send a validated redeem/accrue request.

        :param request: the request, built by :meth:`PointsRequest.build`.
        :return: the transaction Altcraft made.
        :raises AltcraftOutcomeUnknownError: it may have been applied without an answer; it
            is never re-sent blindly.
        """
        endpoint = (
            "loyalty/redeeme_points" if request.operation == "redeem" else "loyalty/accrue_points"
        )
        envelope = self._call(
            endpoint,
            request.to_payload(),
            resend_safe=False,
            transaction_eid=request.transaction_eid,
        )
        try:
            return PointsTransaction.from_wire(
                _data_object(endpoint, envelope), request.transaction_eid
            )
        except (AltcraftBadResponseError, ValueError) as exc:
            # "Success" without a usable answer: the points may have moved; never a KeyError,
            # never the string "None" as a transaction id.
            raise AltcraftOutcomeUnknownError(
                endpoint, f"the success answer is malformed: {exc}", request.transaction_eid
            ) from exc

    def send_points_request_once(
        self, request: PointsRequest, *, check_existing: bool = False
    ) -> PointsTransaction:
        """Apply ``request`` at most once, using its ``transaction_eid`` as the key.

        With ``check_existing`` (a retried task, an eid from the input) the member's
        transactions are searched for the eid first, and a transaction found there is returned
        (``already_existed=True``) instead of sending. After an "outcome unknown" failure, or an
        error that may mean the server already holds this eid, the eid is looked up again; if
        it is not there the error is raised, never followed by a second send: Altcraft may
        still be applying the request, and only a later attempt (the task's next try, which
        checks first) may send it again.

        :param request: the request; its ``transaction_eid`` is required.
        :param check_existing: look the eid up before sending.
        :return: the transaction, sent now or found (``already_existed``).
        :raises AltcraftEidSettledError: the eid names a transaction that was rolled back,
            cancelled or expired.
        :raises AltcraftOutcomeUnknownError: it may have been applied and the lookup did not
            find it (yet).
        """
        eid = request.transaction_eid
        if eid is None:
            raise AltcraftValidationError(
                "transaction_eid", "is missing", "exactly-once sending needs an eid to look up"
            )
        request = self.with_lookup_currency(request)
        if check_existing and (found := self._find_request(request)) is not None:
            self.log.info("Transaction %s is already in Altcraft; not sending it again", eid)
            return found
        try:
            return self.send_points_request(request)
        except AltcraftOutcomeUnknownError as exc:
            self.log.warning("%s; looking the transaction up", exc)
            try:
                found = self._find_request(request)
            except AltcraftEidSettledError:
                raise
            except AltcraftError as lookup_error:
                # The send's outcome is still unknown: the lookup's own error ("nothing was
                # sent") would misreport a redemption that may have been applied.
                raise AltcraftOutcomeUnknownError(
                    exc.endpoint,
                    f"{exc.reason}; the eid lookup that followed failed too ({lookup_error})",
                    eid,
                ) from lookup_error
            if found is not None:
                self.log.info("Transaction %s was applied by this attempt (answer lost)", eid)
                # Applied by this very send, whose answer was lost: not "already existed".
                return dataclasses.replace(found, already_existed=False)
            raise
        except AltcraftAuthError:
            raise
        except AltcraftApiError as refusal:
            # A server that refuses duplicate eids answers with an error code nobody has
            # published; whatever the error, a transaction already under this eid wins.
            try:
                found = self._find_request(request)
            except AltcraftEidSettledError:
                raise
            except AltcraftError:
                raise refusal from None  # the refusal is the answer; the lookup adds nothing
            if found is not None:
                return found
            raise

    def with_lookup_currency(self, request: PointsRequest) -> PointsRequest:
        """``request`` with its currency set: an eid lookup (``loyalty/account/transactions``)
        needs the currency the transaction was made in, so a request sent exactly once names
        it explicitly (its own, else the connection's ``default_points_currency_eid``) rather
        than leave Altcraft to pick one the lookup might not search.

        :param request: a redeem/accrue request.
        """
        if request.points_currency_iid is not None or request.points_currency_eid is not None:
            return request
        _, eid = self._currency_for("exactly-once sending (its eid lookups)", None, None)
        return dataclasses.replace(request, points_currency_eid=eid)

    def _currency_for(
        self, purpose: str, iid: int | None, eid: str | None
    ) -> tuple[int | None, str | None]:
        """The given currency, else the connection's default; for calls that require one."""
        if iid is not None or eid is not None:
            return iid, eid
        default = self.settings.default_points_currency_eid
        if default is None:
            raise AltcraftValidationError(
                "points_currency_eid",
                f"is missing and {purpose} needs the points currency",
                f"pass points_currency_eid (or points_currency_iid), or set the extra "
                f"default_points_currency_eid of connection {self.altcraft_conn_id!r}",
            )
        return None, default

    def _find_request(self, request: PointsRequest) -> PointsTransaction | None:
        eid = request.transaction_eid
        assert eid is not None
        holder = eid_holder(
            eid,
            self.find_transactions_by_eid(
                loyalty_program_id=request.loyalty_program_id,
                matching=request.matching,
                transaction_eid=eid,
                points_currency_iid=request.points_currency_iid,
                points_currency_eid=request.points_currency_eid,
            ),
        )
        if holder is None:
            return None
        if holder.status is None:
            self.log.warning(
                "Transaction %s (eid %s) is in Altcraft, which reports no state for it: taken "
                "as applied and not sent again (if it was rolled back or cancelled, apply it "
                "under a new transaction_eid)",
                holder.transaction_id,
                eid,
            )
        return holder.as_points_transaction()

    def commit_transaction(
        self,
        *,
        transaction_id: str | None = None,
        transaction_eid: str | None = None,
        retried: bool = False,
    ) -> TransactionResult:
        """Commit a temporary transaction (``loyalty/commit_transaction``).

        :param transaction_id: the transaction's id; or
        :param transaction_eid: its external id (one of the two is required).
        :param retried: this same commit may already have been applied by an earlier
            attempt (a task retry); a refusal saying it is already committed then counts as
            success.
        :return: the transaction now holding the points, and the active balance.
        """
        return self._transaction_action(
            "loyalty/commit_transaction", transaction_id, transaction_eid, retried
        )

    def rollback_transaction(
        self,
        *,
        transaction_id: str | None = None,
        transaction_eid: str | None = None,
        retried: bool = False,
    ) -> TransactionResult:
        """Roll back a temporary transaction (``loyalty/rollback_transaction``).

        :param transaction_id: the transaction's id; or
        :param transaction_eid: its external id (one of the two is required).
        :param retried: as for :meth:`commit_transaction` ("already rolled back").
        :return: the transaction and the active balance.
        """
        return self._transaction_action(
            "loyalty/rollback_transaction", transaction_id, transaction_eid, retried
        )

    def cancel_transaction(
        self,
        *,
        transaction_id: str | None = None,
        transaction_eid: str | None = None,
        retried: bool = False,
    ) -> TransactionResult:
        """Cancel a temporary or permanent transaction (``loyalty/cancel_transaction``).

        :param transaction_id: the transaction's id; or
        :param transaction_eid: its external id (one of the two is required).
        :param retried: as for :meth:`commit_transaction` ("already cancelled").
        :return: the transaction and the active balance.
        """
        return self._transaction_action(
            "loyalty/cancel_transaction", transaction_id, transaction_eid, retried
        )

    def _transaction_action(
        self,
        endpoint: str,
        transaction_id: str | None,
        transaction_eid: str | None,
        retried: bool,
    ) -> TransactionResult:
        payload = transaction_reference(transaction_id, transaction_eid)
        # A state change applied twice is refused the second time, never doubled: safe to resend.
        try:
            envelope = self._call(endpoint, payload, resend_safe=True)
        except AltcraftApiError as exc:
            # When an earlier attempt may have been applied without its answer reaching us, a
            # refusal as "already <done>" means it was. Altcraft's wording is unpublished: the
            # phrases are a tolerant guess, and only trusted after a possibly lost answer.
            already_done = self.server_profile.says_already_done(
                endpoint, exc.error_text, ALREADY_DONE_PHRASES
            )
            if not (exc.earlier_attempt_lost or retried) or not already_done:
                raise
            self.log.warning(
                "Altcraft %s refused as already done (%s) after an earlier attempt that may "
                "have been applied: taking it as applied",
                endpoint,
                exc.error_text,
            )
            return TransactionResult(payload.get("transaction_id"), None)
        return TransactionResult.from_wire(_data_object(endpoint, envelope))

    # -- account reads ------------------------------------------------------------------------

    def get_balance(
        self,
        *,
        loyalty_program_id: int,
        matching: Matching,
        points_currency_iid: int | None = None,
        points_currency_eid: str | None = None,
    ) -> Balance:
        """Total and active balance (``loyalty/account/balance``).

        :param loyalty_program_id: the loyalty program's id.
        :param matching: how Altcraft finds the member (:class:`Matching`).
        :param points_currency_iid: the points currency by id; or
        :param points_currency_eid: the points currency by external id. Neither:
            Altcraft's default currency.
        """
        payload = _account_payload(
            loyalty_program_id, matching, points_currency_iid, points_currency_eid
        )
        endpoint = "loyalty/account/balance"
        return Balance.from_wire(
            _data_object(endpoint, self._call(endpoint, payload, resend_safe=True))
        )

    def get_account_transactions(
        self,
        *,
        loyalty_program_id: int,
        matching: Matching,
        points_currency_iid: int | None = None,
        points_currency_eid: str | None = None,
        from_id: str | None = None,
        limit: int = 20,
    ) -> list[AccountTransaction]:
        """One page of ``loyalty/account/transactions``: those after ``from_id``.

        :param loyalty_program_id: the loyalty program's id.
        :param matching: how Altcraft finds the member (:class:`Matching`).
        :param points_currency_iid: the points currency by id; or
        :param points_currency_eid: the points currency by external id. Neither: the
            connection's ``default_points_currency_eid`` (required then).
        :param from_id: the last transaction id of the previous page (None: the first page).
        :param limit: transactions per page, at most 100.
        """
        limit = parse_limit(limit, maximum=ACCOUNT_TRANSACTIONS_PAGE_MAX)
        from_id = parse_optional_str(from_id, "from_id")
        payload = _account_payload(
            loyalty_program_id,
            matching,
            *self._currency_for(
                "loyalty/account/transactions", points_currency_iid, points_currency_eid
            ),
        )
        payload["limit"] = limit
        if from_id is not None:
            payload["from_id"] = from_id
        endpoint = "loyalty/account/transactions"
        rows = _data_list(endpoint, self._call(endpoint, payload, resend_safe=True))
        try:
            return [AccountTransaction.from_wire(row) for row in rows]
        except ValueError as exc:
            raise AltcraftBadResponseError(
                endpoint,
                http_status=200,
                error_code=0,
                error_text=f"a list item is malformed: {exc}",
            ) from None

    def iter_account_transactions(
        self,
        *,
        loyalty_program_id: int,
        matching: Matching,
        points_currency_iid: int | None = None,
        points_currency_eid: str | None = None,
        from_id: str | None = None,
        page_size: int = ACCOUNT_TRANSACTIONS_PAGE_MAX,
    ) -> Iterator[AccountTransaction]:
        """Every transaction of the account, page by page (``from_id`` = last id seen).

        Altcraft publishes no next-page marker: a page shorter than ``page_size`` ends it.

        :param loyalty_program_id: the loyalty program's id.
        :param matching: how Altcraft finds the member (:class:`Matching`).
        :param points_currency_iid: the points currency by id; or
        :param points_currency_eid: the points currency by external id. Neither: the
            connection's ``default_points_currency_eid`` (required then).
        :param from_id: start after this transaction id (None: from the first).
        :param page_size: transactions per request, at most 100.
        """
        seen_last: str | None = None
        while True:
            page = self.get_account_transactions(
                loyalty_program_id=loyalty_program_id,
                matching=matching,
                points_currency_iid=points_currency_iid,
                points_currency_eid=points_currency_eid,
                from_id=from_id,
                limit=page_size,
            )
            yield from page
            if len(page) < page_size or page[-1].transaction_id == seen_last:
                return  # the second test guards against a server that ignores from_id
            seen_last = from_id = page[-1].transaction_id

    def find_transaction_by_eid(
        self,
        *,
        loyalty_program_id: int,
        matching: Matching,
        transaction_eid: str,
        points_currency_iid: int | None = None,
        points_currency_eid: str | None = None,
    ) -> AccountTransaction | None:
        """The member's transaction holding this ``transaction_eid`` (see
        :func:`~airflow_provider_altcraft.models.eid_holder`), or None; raises
        :class:`AltcraftEidSettledError` when it reports a settled state.

        :param loyalty_program_id: the loyalty program's id.
        :param matching: how Altcraft finds the member (:class:`Matching`).
        :param transaction_eid: the eid to look for.
        :param points_currency_iid: the points currency by id; or
        :param points_currency_eid: the points currency by external id. Neither: the
            connection's ``default_points_currency_eid`` (required then).
        """
        return eid_holder(
            transaction_eid,
            self.find_transactions_by_eid(
                loyalty_program_id=loyalty_program_id,
                matching=matching,
                transaction_eid=transaction_eid,
                points_currency_iid=points_currency_iid,
                points_currency_eid=points_currency_eid,
            ),
        )

    def find_transactions_by_eid(
        self,
        *,
        loyalty_program_id: int,
        matching: Matching,
        transaction_eid: str,
        points_currency_iid: int | None = None,
        points_currency_eid: str | None = None,
    ) -> list[AccountTransaction]:
        """Every transaction of the member carrying ``transaction_eid``, in list order (a
        committed temporary accrual leaves two: the temporary one and its full copy).

        Altcraft has no lookup by eid, so this pages through all the member's transactions in
        the currency (required: the connection's default is used when none is given).

        :param loyalty_program_id: the loyalty program's id.
        :param matching: how Altcraft finds the member (:class:`Matching`).
        :param transaction_eid: the eid to look for.
        :param points_currency_iid: the points currency by id; or
        :param points_currency_eid: the points currency by external id. Neither: the
            connection's ``default_points_currency_eid`` (required then).
        """
        if parse_optional_str(transaction_eid, "transaction_eid") is None:
            raise AltcraftValidationError(
                "transaction_eid", "is missing", "pass the eid to look up"
            )
        return [
            transaction
            for transaction in self.iter_account_transactions(
                loyalty_program_id=loyalty_program_id,
                matching=matching,
                points_currency_iid=points_currency_iid,
                points_currency_eid=points_currency_eid,
            )
            if transaction.transaction_eid == transaction_eid
        ]

    def get_expiring_points(
        self,
        *,
        loyalty_program_id: int,
        matching: Matching,
        date_from: date | datetime | str,
        date_to: date | datetime | str,
        points_currency_iid: int | None = None,
        points_currency_eid: str | None = None,
    ) -> Decimal:
        """Points that expire in the period (see :meth:`Period.from_arguments`: a date is a
        whole UTC day, a date-time ``date_to`` is excluded), sent as RFC3339 bounds.

        :param loyalty_program_id: the loyalty program's id.
        :param matching: how Altcraft finds the member (:class:`Matching`).
        :param date_from: the period's start (a date, datetime or ISO string).
        :param date_to: the period's end.
        :param points_currency_iid: the points currency by id; or
        :param points_currency_eid: the points currency by external id. Neither: the
            connection's ``default_points_currency_eid`` (required then).
        """
        payload = _account_payload(
            loyalty_program_id,
            matching,
            *self._currency_for("expiring points", points_currency_iid, points_currency_eid),
        )
        payload.update(Period.from_arguments(date_from, date_to).last_second_bounds())
        endpoint = "loyalty/account/expiring_points"
        data = _data_object(endpoint, self._call(endpoint, payload, resend_safe=True))
        return parse_wire_decimal(data.get("expiring_points", "0"), "expiring_points")

    def get_profile_tiers(
        self, *, loyalty_program_id: int, tiers_group_id: int, matching: Matching
    ) -> list[ProfileTier]:
        """The profile's tier in a tiers group (``loyalty/account/tiers``).

        :param loyalty_program_id: the loyalty program's id.
        :param tiers_group_id: the tiers group's id.
        :param matching: how Altcraft finds the member (:class:`Matching`).
        """
        payload = {
            "loyalty_program_id": parse_positive_int(loyalty_program_id, "loyalty_program_id"),
            "tiers_group_id": parse_positive_int(tiers_group_id, "tiers_group_id"),
            **Matching.check(matching).to_payload(),
        }
        endpoint = "loyalty/account/tiers"
        rows = _data_list(endpoint, self._call(endpoint, payload, resend_safe=True))
        return [ProfileTier.from_wire(row) for row in rows]

    # -- program reads ------------------------------------------------------------------------

    def get_trigger_promotions(
        self,
        *,
        loyalty_program_id: int,
        from_id: int | None = None,
        limit: int | None = None,
        is_active: bool | None = None,
    ) -> PromotionsPage:
        """One page of trigger promotions; ``next_from_id`` is None on the last page.

        :param loyalty_program_id: the loyalty program's id.
        :param from_id: the previous page's ``next_from_id`` (None: the first page).
        :param limit: promotions per page (Altcraft's default when None).
        :param is_active: only active (True) or inactive (False) promotions; None: all.
        """
        payload: dict[str, Any] = {
            "loyalty_program_id": parse_positive_int(loyalty_program_id, "loyalty_program_id")
        }
        if from_id is not None:
            payload["from_id"] = parse_optional_positive_int(from_id, "from_id")
        if limit is not None:
            payload["limit"] = parse_limit(limit)
        if is_active is not None:
            payload["is_active"] = parse_bool(is_active, "is_active")
        endpoint = "loyalty/trigger_promotions"
        envelope = self._call(endpoint, payload, resend_safe=True)
        next_from_id = envelope.get("next_from_id")
        return PromotionsPage(
            promotions=[Promotion.from_wire(row) for row in _data_list(endpoint, envelope)],
            next_from_id=None if next_from_id in (None, "", 0) else int(next_from_id),
            total_count=envelope.get("total_count"),
        )

    def iter_trigger_promotions(
        self, *, loyalty_program_id: int, is_active: bool | None = None, page_size: int = 100
    ) -> Iterator[Promotion]:
        """Every trigger promotion, following ``next_from_id``.

        :param loyalty_program_id: the loyalty program's id.
        :param is_active: only active (True) or inactive (False) promotions; None: all.
        :param page_size: promotions per request.
        """
        from_id: int | None = None
        while True:
            page = self.get_trigger_promotions(
                loyalty_program_id=loyalty_program_id,
                from_id=from_id,
                limit=page_size,
                is_active=is_active,
            )
            yield from page.promotions
            if not page.promotions or page.next_from_id is None or page.next_from_id == from_id:
                return
            from_id = page.next_from_id

    # -- members ------------------------------------------------------------------------------

    def register_member(
        self,
        *,
        loyalty_program_id: int,
        matching: Matching,
        registration_date: datetime | str | None = None,
    ) -> str:
        """Register the profile in the program (``loyalty/register_member``).

        :param loyalty_program_id: the loyalty program's id.
        :param matching: how Altcraft finds the profile (:class:`Matching`).
        :param registration_date: the registration's time (aware datetime or RFC3339);
            None: now, as Altcraft records it.
        :return: the profile's ``profile_id``.
        """
        payload: dict[str, Any] = {
            "loyalty_program_id": parse_positive_int(loyalty_program_id, "loyalty_program_id"),
            **Matching.check(matching).to_payload(),
        }
        if registration_date is not None:
            payload["registration_date"] = format_rfc3339(
                parse_datetime(registration_date, "registration_date")
            )
        return self._member_call("loyalty/register_member", payload)

    def remove_member(self, *, loyalty_program_id: int, matching: Matching) -> str:
        """Remove the profile from the program (``loyalty/delete_member``).

        :param loyalty_program_id: the loyalty program's id.
        :param matching: how Altcraft finds the profile (:class:`Matching`).
        :return: the profile's ``profile_id``.
        """
        payload = {
            "loyalty_program_id": parse_positive_int(loyalty_program_id, "loyalty_program_id"),
            **Matching.check(matching).to_payload(),
        }
        return self._member_call("loyalty/delete_member", payload)

    def _member_call(self, endpoint: str, payload: dict[str, Any]) -> str:
        envelope = self._call(endpoint, payload, resend_safe=True)
        # These two answer with profile_id at the top level, not in data.
        profile_id = envelope.get("profile_id")
        if profile_id is None and isinstance(envelope.get("data"), Mapping):
            profile_id = envelope["data"].get("profile_id")
        if profile_id is None:
            raise AltcraftBadResponseError(
                endpoint, http_status=200, error_code=0, error_text="answer has no profile_id"
            )
        return str(profile_id)

    # -- export -------------------------------------------------------------------------------

    def start_transactions_export(
        self,
        *,
        loyalty_program_id: int,
        date_from: date | datetime | str | None = None,
        date_to: date | datetime | str | None = None,
        points_currency_iid: int | None = None,
        points_currency_eid: str | None = None,
        from_id: str | None = None,
        period: Period | None = None,
    ) -> str:
        """Start an asynchronous export of points transactions; returns the ``task_id``.

        The period is ``period``, or ``date_from``/``date_to`` as in
        :meth:`Period.from_arguments`. Altcraft reads both bounds as inclusive: the file may
        hold rows created at exactly the period's end, which
        :func:`~airflow_provider_altcraft.export_files.assemble_export` drops.

        :param loyalty_program_id: the loyalty program's id.
        :param date_from: the period's start (a date, datetime or ISO string).
        :param date_to: the period's end.
        :param points_currency_iid: the points currency by id; or
        :param points_currency_eid: the points currency by external id. Neither: the
            connection's ``default_points_currency_eid`` (required then).
        :param from_id: export only transactions after this id.
        :param period: the period, instead of ``date_from``/``date_to``.
        :return: the Altcraft ``task_id`` to poll with :meth:`get_task_status`.
        """
        if period is None:
            period = Period.from_arguments(date_from, date_to)
        iid, eid = self._currency_for("an export", points_currency_iid, points_currency_eid)
        payload: dict[str, Any] = {
            "loyalty_program_id": parse_positive_int(loyalty_program_id, "loyalty_program_id"),
            **currency_payload(iid, eid),
            **period.to_json(),
        }
        if from_id is not None:
            payload["from_id"] = from_id
        endpoint = "loyalty/transactions_export"
        data = _data_object(endpoint, self._call(endpoint, payload, resend_safe=True))
        if "task_id" not in data:
            raise AltcraftBadResponseError(
                endpoint, http_status=200, error_code=0, error_text="answer has no task_id"
            )
        return str(data["task_id"])

    def get_task_status(self, task_id: str) -> TaskStatus:
        """Status of an asynchronous task (``tasks/status``).

        :param task_id: the Altcraft task id (e.g. from :meth:`start_transactions_export`).
        """
        if parse_optional_str(task_id, "task_id") is None:
            raise AltcraftValidationError("task_id", "is missing", "pass the export's task_id")
        endpoint = "tasks/status"
        envelope = self._call(endpoint, {"task_id": task_id}, resend_safe=True)
        return TaskStatus.from_wire(task_id, _data_object(endpoint, envelope))

    def download_file(self, url: str, destination: str | os.PathLike[str]) -> int:
        """Stream a result file (e.g. an export's CSV) to ``destination``; returns its size.

        ``url`` is what ``tasks/status`` gave: a path on the account's host, or an absolute
        URL. The token is only sent to the account's own host. The file appears at
        ``destination`` complete or not at all (written beside it, then renamed).

        :param url: the file's URL or path, as ``tasks/status`` gave it.
        :param destination: the local file to write.
        :return: the file's size in bytes.
        """
        import requests

        settings = self.settings
        target = urljoin(settings.base_url + "/", url)
        target_parts, base_parts = urlsplit(target), urlsplit(settings.base_url)
        same_host = (target_parts.scheme, target_parts.netloc) == (
            base_parts.scheme,
            base_parts.netloc,
        )
        # The token goes to the account's own host only, never to a third-party file host.
        headers = {"Authorization": f"Bearer {settings.token}"} if same_host else {}
        destination = check_output_path(destination, "destination", partial_suffix=".part")
        partial = destination.with_name(destination.name + ".part")
        size = 0
        try:
            with requests.get(
                target,
                headers=headers,
                stream=True,
                timeout=(settings.connect_timeout, settings.timeout),
                verify=settings.verify,
            ) as response:
                if response.status_code != 200:
                    raise AltcraftApiError(
                        "download",
                        http_status=response.status_code,
                        error_code=None,
                        error_text="the result file could not be downloaded",
                    )
                with storage.open_private(partial, "wb") as out:
                    for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
                        out.write(chunk)
                        size += len(chunk)
            partial.replace(destination)
        except requests.RequestException as exc:
            partial.unlink(missing_ok=True)
            raise AltcraftTransportError("download", _describe_transport_error(exc)) from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return size


# -- helpers (module level: pure functions, easy to test) ---------------------------------------


def transaction_reference(transaction_id: object, transaction_eid: object) -> dict[str, str]:
    """The ``transaction_id`` and/or ``transaction_eid`` of commit/rollback/cancel.

    :param transaction_id: the transaction's id, or None.
    :param transaction_eid: its external id, or None (one of the two is required).
    :raises AltcraftValidationError: both are missing.
    """
    reference = {
        "transaction_id": parse_optional_str(transaction_id, "transaction_id"),
        "transaction_eid": parse_optional_str(transaction_eid, "transaction_eid"),
    }
    if not any(reference.values()):
        raise AltcraftValidationError(
            "transaction_id",
            "is missing and so is transaction_eid",
            "pass the transaction_id (e.g. the redeem task's XCom) or the transaction_eid",
        )
    return {key: value for key, value in reference.items() if value is not None}


def _account_payload(
    loyalty_program_id: object,
    matching: Matching,
    points_currency_iid: int | None,
    points_currency_eid: str | None,
) -> dict[str, Any]:
    return {
        "loyalty_program_id": parse_positive_int(loyalty_program_id, "loyalty_program_id"),
        **currency_payload(points_currency_iid, points_currency_eid),
        **Matching.check(matching).to_payload(),
    }
