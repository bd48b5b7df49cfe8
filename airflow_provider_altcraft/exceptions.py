"""Typed errors of the Altcraft provider.

Every error that reaches a DAG author says what went wrong and what to do about it, and keeps
the facts a caller needs to decide (endpoint, HTTP status, Altcraft error code) as attributes.
No error message ever contains the API token or a request body.
"""

from __future__ import annotations

__all__ = [
    "AltcraftApiError",
    "AltcraftAuthError",
    "AltcraftBadResponseError",
    "AltcraftConfigError",
    "AltcraftEidSettledError",
    "AltcraftError",
    "AltcraftOutcomeUnknownError",
    "AltcraftRateLimitError",
    "AltcraftServerError",
    "AltcraftTransportError",
    "AltcraftValidationError",
]


class AltcraftError(Exception):
    """Base class of every error raised by this provider."""


class AltcraftValidationError(AltcraftError, ValueError):
    """A parameter is invalid; raised before any HTTP request is made.

    ``parameter`` names the offending argument (for a batch row: the column).
    """

    def __init__(self, parameter: str, problem: str, accepted: str | None = None) -> None:
        self.parameter = parameter
        self.problem = problem
        self.accepted = accepted
        message = f"{parameter}: {problem}"
        if accepted:
            message += f"; {accepted}"
        super().__init__(message)


class AltcraftConfigError(AltcraftError):
    """The Airflow connection is missing or has an invalid field."""


class AltcraftApiError(AltcraftError):
    """Altcraft answered, and the answer is an error.

    Raised for a non-zero ``error`` in the envelope (even with HTTP 200) and for HTTP errors.
    ``error_code`` is Altcraft's own code when the body carried one, else ``None``.
    ``earlier_attempt_lost`` is True when this answered a retry of a request whose earlier
    attempt may have been applied without an answer (so "already done" may mean "done by us").
    """

    earlier_attempt_lost: bool = False

    def __init__(
        self,
        endpoint: str,
        *,
        http_status: int | None,
        error_code: int | None,
        error_text: str,
        hint: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.http_status = http_status
        self.error_code = error_code
        self.error_text = error_text
        self.hint = hint
        parts = [f"Altcraft {endpoint} failed"]
        if http_status is not None:
            parts.append(f"HTTP {http_status}")
        if error_code is not None:
            parts.append(f"error {error_code}")
        message = ", ".join(parts) + f": {error_text or 'no error text'}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class AltcraftAuthError(AltcraftApiError):
    """The token was missing, wrong or not allowed to do this (fix the connection; no retry)."""


class AltcraftRateLimitError(AltcraftApiError):
    """HTTP 429 persisted after every retry the connection allows."""


class AltcraftServerError(AltcraftApiError):
    """HTTP 5xx persisted after every retry the connection allows."""


class AltcraftBadResponseError(AltcraftApiError):
    """The body was not the JSON envelope Altcraft documents."""


class AltcraftTransportError(AltcraftError):
    """No answer could be had (connection refused, timeouts) after every allowed retry.

    For redeem and accrue it means nothing was sent (otherwise the error is
    :class:`AltcraftOutcomeUnknownError`). Other calls may have been applied without an answer:
    reads change nothing, and the state changes (commit, rollback, cancel, members) can be
    sent again safely.
    """

    def __init__(self, endpoint: str, message: str) -> None:
        self.endpoint = endpoint
        super().__init__(f"Altcraft {endpoint}: {message}")


class AltcraftOutcomeUnknownError(AltcraftError):
    """A money-moving request may or may not have been applied.

    The request was sent but no usable answer came back (read timeout, connection dropped after
    sending, a gateway error). Sending it again could move the points twice, so the hook never
    does; look the transaction up by its ``transaction_eid`` first
    (:meth:`AltcraftHook.find_transaction_by_eid`), as the operators do.

    Altcraft may still be working on the request, so not finding the transaction right away
    proves nothing: it is only sent again later (the task's next try looks the eid up first).
    """

    def __init__(self, endpoint: str, reason: str, transaction_eid: str | None) -> None:
        self.endpoint = endpoint
        self.reason = reason
        self.transaction_eid = transaction_eid
        eid_note = (
            f"look up transaction_eid {transaction_eid!r} before sending again"
            if transaction_eid
            else "no transaction_eid was set, so it cannot be looked up; check the ledger"
        )
        super().__init__(
            f"Altcraft {endpoint}: outcome unknown ({reason}); the request may have been "
            f"applied; {eid_note}"
        )


class AltcraftEidSettledError(AltcraftError):
    """The ``transaction_eid`` already names a transaction that was rolled back, cancelled or
    expired: it cannot be applied again under that eid. A retry cannot change that: the
    operators raise it as :class:`airflow_provider_altcraft.operators.base.AltcraftEidSettledError`,
    also an ``AirflowFailException`` (no retry; failure callbacks see this class). This module
    imports no Airflow, so the reconcile engines and tools that use it stay light."""

    def __init__(self, transaction_eid: str, transaction_id: str, status: str) -> None:
        self.transaction_eid = transaction_eid
        self.transaction_id = transaction_id
        self.status = status
        super().__init__(
            f"transaction_eid {transaction_eid!r} already names transaction {transaction_id}, "
            f"which is {status}; to apply it again, use a new transaction_eid"
        )
