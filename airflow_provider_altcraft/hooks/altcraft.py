"""``AltcraftHook``: the Altcraft loyalty API (v1.1) over one keep-alive HTTP session.

Design notes, briefly:

* Every call is a JSON POST to ``<host>/api/v1.1/<method>``; success is ``error == 0`` in the
  envelope, whatever the HTTP status says (Altcraft may answer an error with HTTP 200).
* Retries are decided per call. Reads and state transitions (commit, rollback, cancel,
  register ...) are safe to send again. Redeem and accrue add points each time they are
  applied, so after a request has left this process without a clear answer the hook never
  sends it again: it raises :class:`AltcraftOutcomeUnknownError` and the caller looks the
  transaction up by its ``transaction_eid`` (:meth:`AltcraftHook.send_points_request_once`
  does exactly that).
* No request or response body is logged: they carry e-mails, phones and the token.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import ssl
import time
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from airflow_provider_altcraft import __version__
from airflow_provider_altcraft.compat import BaseHook, mask_secret
from airflow_provider_altcraft.connection_fields import (
    HIDDEN_FIELDS,
    PLACEHOLDERS,
    RELABELING,
    ConnectionSettings,
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
from airflow_provider_altcraft.hooks.throttle import Throttle
from airflow_provider_altcraft.models import (
    AccountTransaction,
    Balance,
    Matching,
    PointsRequest,
    PointsTransaction,
    ProfileTier,
    Promotion,
    PromotionsPage,
    TaskStatus,
    TransactionResult,
    eid_holder,
    mask_personal_data,
)
from airflow_provider_altcraft.periods import Period
from airflow_provider_altcraft.validation import (
    check_body_size,
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
    import requests

    from airflow_provider_altcraft.server_profile import ServerProfile

API_PREFIX = "/api/v1.1/"
#: Altcraft's own code for a missing/invalid token, and "forbidden".
AUTH_ERROR_CODES = frozenset({401, 403})
#: Overload answers: every thread of the hook backs off. A 429 means "not processed" (even a
#: redeem may be sent again); a 503 only when the connection says so (``http_503_not_applied``:
#: Altcraft does not publish whether a gateway's 503 can follow an applied write).
OVERLOAD_STATUSES = frozenset({429, 503})
#: How a refused resend of a state change says "this already happened" (see
#: ``_transaction_action``), per endpoint, lower case.
ALREADY_DONE_PHRASES: dict[str, tuple[str, ...]] = {
    "loyalty/commit_transaction": ("already committed",),
    "loyalty/rollback_transaction": ("already rolled back",),
    "loyalty/cancel_transaction": ("already cancelled", "already canceled"),
}
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
#: The header the provider's sandbox puts on every answer (sandbox.server.SANDBOX_HEADER; a
#: test keeps the two equal): test_connection warns that the connection is not Altcraft.
SANDBOX_HEADER_NAME = "X-Altcraft-Sandbox"
CONNECTION_OK = "Connection OK: Altcraft answered and accepted the token."
CONNECTION_OK_SANDBOX = (
    "Connection OK, but it points at the altcraft-sandbox, not Altcraft: nothing sent through "
    "it moves real points."
)
#: Sent by test_connection, which expects Altcraft to refuse it.
CONNECTION_TEST_INVALID_TOKEN = "airflow-connection-test-invalid-token"
ACCOUNT_TRANSACTIONS_PAGE_MAX = 100


class AltcraftHook(BaseHook):
    """Talks to the Altcraft Platform loyalty API.

    :param altcraft_conn_id: an Airflow connection of type ``altcraft``: host = the account's
        base URL (``https://<domain>``), password = the API token; extras tune timeouts,
        TLS, retries and rate (see the README).
    """

    #: Whether the last answer came from the provider's sandbox (its header said so).
    answered_by_sandbox = False

    conn_name_attr = "altcraft_conn_id"
    default_conn_name = "altcraft_default"
    conn_type = "altcraft"
    hook_name = "Altcraft"

    def __init__(
        self,
        altcraft_conn_id: str = default_conn_name,
        *,
        pool_maxsize: int | None = None,
        max_requests_per_second: float | None = None,
    ) -> None:
        super().__init__()
        self.altcraft_conn_id = altcraft_conn_id
        # Per-task overrides of the connection's extras: a batch sizes the keep-alive pool to
        # its threads and may cap its own rate.
        self._overrides: dict[str, Any] = {
            name: value
            for name, value in (
                ("pool_maxsize", pool_maxsize),
                ("max_requests_per_second", max_requests_per_second),
            )
            if value is not None
        }

    # -- connection ---------------------------------------------------------------------------

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection, read once on first use (never in ``__init__``: DAG parsing)."""
        conn = self.get_connection(self.altcraft_conn_id)
        if conn.password:
            mask_secret(conn.password)
        settings = ConnectionSettings.from_fields(
            self.altcraft_conn_id,
            host=conn.host,
            port=conn.port,
            schema=conn.schema,
            password=conn.password,
            extra=conn.extra_dejson,
        )
        if settings.token != conn.password:
            mask_secret(settings.token)  # the password less surrounding whitespace
        return dataclasses.replace(settings, **self._overrides) if self._overrides else settings

    @cached_property
    def session(self) -> requests.Session:
        """One keep-alive session per hook, shared by the threads of a batch."""
        import requests
        import requests.utils
        from requests.adapters import HTTPAdapter

        settings = self.settings
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=settings.pool_maxsize, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.verify = settings.verify
        session.headers["User-Agent"] = f"airflow-provider-altcraft/{__version__}"
        if settings.auth_placement == "header":
            session.headers["Authorization"] = f"Bearer {settings.token}"
        # With trust_env, requests re-reads proxy variables from os.environ on every request:
        # a quarter of a loopback request's CPU under Airflow's large environment (profiled).
        # Read them once instead; this also skips ~/.netrc, which could replace the token.
        session.proxies.update(requests.utils.get_environ_proxies(settings.base_url))
        if session.verify is True:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            session.verify = bundle or True
        session.trust_env = False
        return session

    @cached_property
    def _throttle(self) -> Throttle:
        return Throttle(self.settings.max_requests_per_second, self.settings.pool_maxsize)

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

    def limit_in_flight(self, requests: int) -> None:
        """At most ``requests`` requests of this hook in flight at once, from any thread
        (default: the connection pool's size); the limit adapts below it under overload."""
        self._throttle.cap(requests)

    def close(self) -> None:
        """Close pooled connections (the hook can be used again afterwards)."""
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()

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

    # -- transport ----------------------------------------------------------------------------

    def _call(
        self,
        endpoint: str,
        payload: Mapping[str, Any],
        *,
        resend_safe: bool,
        transaction_eid: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """POST ``payload`` to ``endpoint`` and return the checked envelope.

        ``resend_safe`` says whether applying the request twice is harmless. When it is not,
        a request that may have been applied is never sent again (see the module docstring).
        ``token`` replaces the connection's (the connection test sends a made-up one).
        """
        import requests

        settings = self.settings
        url = settings.base_url + API_PREFIX + endpoint
        body = dict(payload)
        headers = {"Content-Type": "application/json"}
        if settings.auth_placement == "body":
            body["token"] = token or settings.token
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        check_body_size(data)
        attempt = 0
        # Whether an earlier attempt may have been applied without an answer reaching us.
        earlier_attempt_lost = False
        while True:
            attempt += 1
            retries_left = settings.max_retries - attempt + 1
            try:
                with self._throttle.in_flight() as generation:
                    # Paced inside the place: a pause ordered while this thread waited for a
                    # place still holds it back.
                    self._throttle.wait()
                    started = time.monotonic()
                    response = self.session.post(
                        url,
                        data=data,
                        headers=headers,
                        timeout=(settings.connect_timeout, settings.timeout),
                        # A redirect would re-send the body (the token too, when it travels
                        # there) to another origin, and its "success" would be believed.
                        allow_redirects=False,
                    )
            except requests.RequestException as exc:
                reason = _describe_transport_error(exc)
                sent = _request_was_sent(exc)
                if sent and not resend_safe:
                    raise AltcraftOutcomeUnknownError(endpoint, reason, transaction_eid) from exc
                if retries_left <= 0:
                    raise AltcraftTransportError(
                        endpoint, f"{reason} (after {attempt} attempts)"
                    ) from exc
                earlier_attempt_lost = earlier_attempt_lost or sent
                delay = self._backoff(attempt)
                self.log.warning(
                    "Altcraft %s: %s; retrying in %.1f s (%d left)",
                    endpoint, reason, delay, retries_left,
                )  # fmt: skip
                time.sleep(delay)
                continue
            elapsed_ms = (time.monotonic() - started) * 1000
            status = response.status_code
            self.answered_by_sandbox = SANDBOX_HEADER_NAME in response.headers
            self.log.debug("Altcraft %s -> HTTP %s in %.0f ms", endpoint, status, elapsed_ms)
            if 300 <= status < 400:
                # Never followed (see above): the request was not processed where it was sent.
                raise AltcraftBadResponseError(
                    endpoint,
                    http_status=status,
                    error_code=None,
                    error_text=(
                        "answered with a redirect, which is not followed; set the connection's "
                        "host to the account's API base URL (https://<account-domain>)"
                    ),
                )
            if status == 429 or status >= 500:
                not_processed = status == 429 or (status == 503 and settings.http_503_not_applied)
                if not not_processed and not resend_safe:
                    raise AltcraftOutcomeUnknownError(endpoint, f"HTTP {status}", transaction_eid)
                if retries_left > 0:
                    retry_after = self._retry_after(response)
                    delay = self._backoff(attempt) if retry_after is None else retry_after
                    if status in OVERLOAD_STATUSES:
                        if retry_after is not None:
                            self._throttle.pause(delay)  # as asked: every thread waits
                        else:
                            # Fewer in flight; this thread backs off.
                            self._throttle.overloaded(generation)
                    earlier_attempt_lost = earlier_attempt_lost or not not_processed
                    self.log.warning(
                        "Altcraft %s: HTTP %s; retrying in %.1f s (%d left)",
                        endpoint, status, delay, retries_left,
                    )  # fmt: skip
                    time.sleep(delay)
                    continue
            self._throttle.succeeded()
            try:
                return _check_envelope(endpoint, response, self.altcraft_conn_id, settings.token)
            except AltcraftBadResponseError as exc:
                if not resend_safe and status < 400:
                    # An answer that is not Altcraft's envelope says nothing about whether the
                    # points moved.
                    raise AltcraftOutcomeUnknownError(
                        endpoint, exc.error_text, transaction_eid
                    ) from exc
                exc.earlier_attempt_lost = earlier_attempt_lost
                raise
            except AltcraftApiError as exc:
                exc.earlier_attempt_lost = earlier_attempt_lost
                raise

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so parallel workers do not retry in lockstep."""
        settings = self.settings
        ceiling = min(settings.backoff_max, settings.backoff_base * 2 ** (attempt - 1))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))

    def _retry_after(self, response: requests.Response) -> float | None:
        """The answer's ``Retry-After`` in seconds (capped by the connection), or None."""
        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        return None if retry_after is None else min(retry_after, self.settings.retry_after_max)

    # -- points -------------------------------------------------------------------------------

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
        """Redeem points (``loyalty/redeeme_points``); never re-sent blindly (see below)."""
        return self.send_points_request(
            PointsRequest.build(
                "redeem",
                loyalty_program_id=loyalty_program_id,
                amount=amount,
                matching=Matching.check(matching),
                points_currency_iid=points_currency_iid,
                points_currency_eid=points_currency_eid,
                promotion_id=promotion_id,
                is_temp=is_temp,
                temp_timeout_sec=temp_timeout_sec,
                created_at=created_at,
                transaction_eid=transaction_eid,
                external_data=external_data,
            )
        )

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
        """Accrue points (``loyalty/accrue_points``); never re-sent blindly (see below)."""
        return self.send_points_request(
            PointsRequest.build(
                "accrue",
                loyalty_program_id=loyalty_program_id,
                amount=amount,
                matching=Matching.check(matching),
                points_currency_iid=points_currency_iid,
                points_currency_eid=points_currency_eid,
                promotion_id=promotion_id,
                is_temp=is_temp,
                temp_timeout_sec=temp_timeout_sec,
                created_at=created_at,
                transaction_eid=transaction_eid,
                external_data=external_data,
                activation_date=activation_date,
                expiration_date=expiration_date,
            )
        )

    def send_points_request(self, request: PointsRequest) -> PointsTransaction:
        """Send a validated redeem/accrue request.

        Raises :class:`AltcraftOutcomeUnknownError` when it may have been applied without an
        answer; it is never re-sent blindly.
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

        Raises :class:`AltcraftEidSettledError` when the eid names a transaction that was
        rolled back, cancelled or expired.
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
        than leave Altcraft to pick one the lookup might not search."""
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

        ``retried``: this same commit may already have been applied by an earlier attempt
        (a task retry); a refusal saying it is already committed then counts as success.
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
        """Roll back a temporary transaction (``loyalty/rollback_transaction``); ``retried``
        as for :meth:`commit_transaction`."""
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
        """Cancel a temporary or permanent transaction (``loyalty/cancel_transaction``);
        ``retried`` as for :meth:`commit_transaction`."""
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
        """Total and active balance (``loyalty/account/balance``)."""
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
        """One page of ``loyalty/account/transactions``: those after ``from_id``."""
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
        :class:`AltcraftEidSettledError` when it reports a settled state."""
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
        whole UTC day, a date-time ``date_to`` is excluded), sent as RFC3339 bounds."""
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
        """The profile's tier in a tiers group (``loyalty/account/tiers``)."""
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
        """One page of trigger promotions; ``next_from_id`` is None on the last page."""
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
        """Every trigger promotion, following ``next_from_id``."""
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
        """Register the profile in the program; returns its ``profile_id``."""
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
        """Remove the profile from the program; returns its ``profile_id``."""
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
        """Status of an asynchronous task (``tasks/status``)."""
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
                with open(partial, "wb") as out:
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
    """The ``transaction_id`` and/or ``transaction_eid`` of commit/rollback/cancel."""
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


def _check_envelope(
    endpoint: str, response: requests.Response, conn_id: str, token: str
) -> dict[str, Any]:
    """Return the envelope of a response, or raise the typed error it stands for (its text
    scrubbed of the token and of e-mails and phones that a server may echo)."""
    status = response.status_code
    try:
        envelope = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or "error" not in envelope:
        error_class = _error_class(status, None)
        if error_class is AltcraftApiError:
            error_class = AltcraftBadResponseError
        raise error_class(
            endpoint,
            http_status=status,
            error_code=None,
            # The body is not quoted: it may echo personal data.
            error_text=(
                f"answer is not an Altcraft JSON envelope "
                f"({response.headers.get('Content-Type', 'no content type')}, "
                f"{len(response.content)} bytes)"
            ),
        )
    try:
        code = int(envelope["error"])
    except (TypeError, ValueError):
        raise AltcraftBadResponseError(
            endpoint, http_status=status, error_code=None, error_text="'error' is not a number"
        ) from None
    if code == 0 and status < 400:
        return envelope
    error_class = _error_class(status, code)
    hint = None
    if error_class is AltcraftAuthError:
        hint = f"Check the API token (password) of Airflow connection {conn_id!r}"
    elif error_class is AltcraftApiError and (code == 400 or status == 400):
        hint = "Altcraft rejected the request; this is not retried"
    raise error_class(
        endpoint,
        http_status=status,
        error_code=code if code else None,
        error_text=mask_personal_data(_scrub(str(envelope.get("error_text") or ""), token)),
        hint=hint,
    )


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _error_class(status: int, code: int | None) -> type[AltcraftApiError]:
    # Altcraft may put an HTTP-like code in the envelope of an HTTP 200 answer: use either.
    codes = {status, code}
    if codes & AUTH_ERROR_CODES:
        return AltcraftAuthError
    if 429 in codes:
        return AltcraftRateLimitError
    if any(c is not None and 500 <= c <= 599 for c in codes):
        return AltcraftServerError
    return AltcraftApiError


def _data_object(endpoint: str, envelope: Mapping[str, Any]) -> dict[str, Any]:
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise AltcraftBadResponseError(
            endpoint, http_status=200, error_code=0, error_text="'data' is not an object"
        )
    return data


def _data_list(endpoint: str, envelope: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = envelope.get("data")
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise AltcraftBadResponseError(
            endpoint, http_status=200, error_code=0, error_text="'data' is not a list of objects"
        )
    return data


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _request_was_sent(exc: Exception) -> bool:
    """False only when the request surely never reached the server (connect phase)."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.SSLError):
        # A certificate is verified in the handshake, before anything is sent; other TLS
        # errors can also break the reading of an answer to a request already sent.
        return not _caused_by(exc, ssl.SSLCertVerificationError)
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            return False
    return True


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is in the chain of causes of ``exc`` (requests and urllib3 wrap
    errors both in ``args`` and in ``__cause__``/``reason``)."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        pending.extend(current.args)
    return False


def _describe_transport_error(exc: Exception) -> str:
    """A short, token-free description (requests' messages can be long and nested)."""
    import requests

    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused" if not _request_was_sent(exc) else "connection dropped"
    return type(exc).__name__
