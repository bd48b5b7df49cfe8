"""Edge cases around money and retries that a code review turned up."""

from __future__ import annotations

import ssl
from decimal import Decimal, localcontext

import pytest
import requests

from airflow_provider_altcraft.connection_fields import ConnectionSettings
from airflow_provider_altcraft.exceptions import (
    AltcraftApiError,
    AltcraftEidSettledError,
    AltcraftRateLimitError,
    AltcraftServerError,
    AltcraftValidationError,
)
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.hooks.transport import _error_class, _request_was_sent
from airflow_provider_altcraft.models import PointsRequest, PointsTransaction
from airflow_provider_altcraft.sandbox import SandboxHandle
from airflow_provider_altcraft.validation import parse_amount, parse_positive_int
from tests.hooks.conftest import ANN, PROGRAM, api_calls


def _held(hook: AltcraftHook, eid: str) -> PointsRequest:
    request = PointsRequest.build(
        "redeem",
        loyalty_program_id=PROGRAM,
        amount="25.00",
        matching=ANN,
        is_temp=True,
        temp_timeout_sec=600,
        transaction_eid=eid,
    )
    hook.send_points_request_once(request)
    return request


def test_an_eid_whose_transaction_was_rolled_back_is_not_reported_as_applied(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    # Altcraft publishes no transaction state; the sandbox reports one only when asked to.
    sandbox.configure(unpublished_fields=True)
    request = _held(hook, "order-42")
    hook.rollback_transaction(transaction_eid="order-42")

    with pytest.raises(AltcraftEidSettledError, match="rolled_back; to apply it again"):
        hook.send_points_request_once(request, check_existing=True)

    assert sandbox.balance(PROGRAM, "p-1", "stars")["active_balance"] == Decimal("500.00")
    assert len(api_calls(sandbox, "loyalty/redeeme_points")) == 1


def test_a_retried_commit_refused_as_already_committed_counts_as_done(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    _held(hook, "order-43")
    hook.commit_transaction(transaction_eid="order-43")  # the earlier try, answer lost

    again = hook.commit_transaction(transaction_eid="order-43", retried=True)

    assert (again.transaction_id, again.balance) == (None, None)  # no answer to read them from
    with pytest.raises(AltcraftApiError, match="already committed"):
        hook.commit_transaction(transaction_eid="order-43")  # not a retry: a real error


def test_parse_positive_int_refuses_unicode_digits_by_name() -> None:
    with pytest.raises(AltcraftValidationError, match=r"^loyalty_program_id: '²'"):
        parse_positive_int("²", "loyalty_program_id")


def test_parse_amount_does_not_depend_on_the_callers_decimal_precision() -> None:
    with localcontext() as context:
        context.prec = 5
        assert parse_amount("123456.78") == Decimal("123456.78")


def test_xcom_amounts_are_plain_decimals_even_for_exponent_inputs() -> None:
    result = PointsTransaction("t", Decimal("1E+3"), Decimal("1.0E-2"))
    assert result.to_xcom()["balance_before"] == "1000"
    assert result.to_xcom()["balance_after"] == "0.010"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (200, 429, AltcraftRateLimitError),
        (200, 503, AltcraftServerError),
        (429, None, AltcraftRateLimitError),
        (200, 400, AltcraftApiError),
    ],
)
def test_error_class_reads_the_envelope_code_of_an_http_200_answer(
    status: int, code: int | None, expected: type[AltcraftApiError]
) -> None:
    assert _error_class(status, code) is expected


def test_only_a_certificate_failure_counts_as_not_sent() -> None:
    # Faults inside TLS cannot be injected by the loopback sandbox (it speaks plain HTTP);
    # the classification is a pure function of the exception, built here as requests does.
    handshake = requests.exceptions.SSLError(ssl.SSLCertVerificationError("bad certificate"))
    while_reading = requests.exceptions.SSLError(ssl.SSLError("bad record mac"))
    assert _request_was_sent(handshake) is False
    assert _request_was_sent(while_reading) is True


def test_connection_settings_repr_hides_the_token() -> None:
    settings = ConnectionSettings.from_fields(
        "c", host="https://x.example", port=None, schema=None, password="tok-12345", extra={}
    )
    assert "tok-12345" not in repr(settings)


def test_personal_data_in_a_server_error_text_is_masked() -> None:
    from airflow_provider_altcraft.models import mask_personal_data

    text = "No profile for 'ann@example.com' or +15550000001"
    assert mask_personal_data(text) == "No profile for 'a***@example.com' or +15*******01"
