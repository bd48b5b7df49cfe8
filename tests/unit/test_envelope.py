"""Altcraft's answer envelope (``{"error": 0, "error_text": "", "data": ...}``) mapped to the
envelope or to the typed error it stands for: pure functions, no server."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests

from airflow_provider_altcraft.exceptions import (
    AltcraftApiError,
    AltcraftAuthError,
    AltcraftBadResponseError,
    AltcraftRateLimitError,
    AltcraftServerError,
)
from airflow_provider_altcraft.hooks.transport import _check_envelope, _data_list, _data_object

ENDPOINT = "loyalty/redeeme_points"
TOKEN = "secret-token-123456"


def answer(status: int, body: object, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers["Content-Type"] = content_type
    return response


def check(response: requests.Response) -> dict[str, object]:
    return _check_envelope(ENDPOINT, response, "altcraft_default", TOKEN)


def test_a_success_envelope_is_returned_with_exact_decimals() -> None:
    body = b'{"error": 0, "error_text": "", "data": {"balance_after": 10.10}}'
    envelope = check(answer(200, body))
    assert envelope["data"] == {"balance_after": Decimal("10.10")}


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (200, 401, AltcraftAuthError),
        (403, 403, AltcraftAuthError),
        (200, 429, AltcraftRateLimitError),
        (429, 0, AltcraftRateLimitError),
        (200, 500, AltcraftServerError),
        (503, 1, AltcraftServerError),
        (200, 400, AltcraftApiError),
        (200, 7, AltcraftApiError),
        (404, 0, AltcraftApiError),
    ],
)
def test_an_error_envelope_is_the_error_its_codes_name(
    status: int, code: int, expected: type[AltcraftApiError]
) -> None:
    with pytest.raises(AltcraftApiError) as error:
        check(answer(status, {"error": code, "error_text": "no", "data": None}))
    assert type(error.value) is expected
    assert error.value.http_status == status
    assert error.value.error_code == (code or None)
    assert error.value.endpoint == ENDPOINT


def test_hints_name_the_connection_or_say_it_is_not_retried() -> None:
    with pytest.raises(AltcraftAuthError) as auth:
        check(answer(200, {"error": 401, "error_text": "bad token"}))
    assert "altcraft_default" in str(auth.value.hint)
    with pytest.raises(AltcraftApiError) as refused:
        check(answer(400, {"error": 400, "error_text": "bad amount"}))
    assert refused.value.hint == "Altcraft rejected the request; this is not retried"


def test_error_text_loses_the_token_and_personal_data() -> None:
    text = f"token {TOKEN} for ann@example.com and +15550000001 refused"
    with pytest.raises(AltcraftApiError) as error:
        check(answer(200, {"error": 400, "error_text": text}))
    message = str(error.value.error_text)
    assert TOKEN not in message and "***" in message
    assert "ann@example.com" not in message and "a***@example.com" in message
    assert "+15550000001" not in message


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"<html>ann@example.com</html>", AltcraftBadResponseError),
        (502, b"<html>Bad gateway</html>", AltcraftServerError),
        (401, b"", AltcraftAuthError),
        (200, b'{"data": {}}', AltcraftBadResponseError),  # no "error"
        (200, b"[0]", AltcraftBadResponseError),
    ],
)
def test_an_answer_that_is_no_envelope_is_typed_by_its_status_without_quoting_it(
    status: int, body: bytes, expected: type[AltcraftApiError]
) -> None:
    with pytest.raises(AltcraftApiError) as error:
        check(answer(status, body, "text/html"))
    assert type(error.value) is expected
    assert error.value.error_code is None
    assert error.value.error_text == (
        f"answer is not an Altcraft JSON envelope (text/html, {len(body)} bytes)"
    )


def test_an_error_field_that_is_not_a_number_is_a_bad_response() -> None:
    with pytest.raises(AltcraftBadResponseError, match="'error' is not a number"):
        check(answer(200, {"error": "none"}))


def test_data_must_have_the_shape_the_endpoint_answers_with() -> None:
    assert _data_object(ENDPOINT, {"data": {"a": 1}}) == {"a": 1}
    assert _data_list(ENDPOINT, {"data": None}) == []
    assert _data_list(ENDPOINT, {"data": [{"a": 1}]}) == [{"a": 1}]
    for envelope in ({"data": None}, {"data": []}, {}):
        with pytest.raises(AltcraftBadResponseError, match="'data' is not an object"):
            _data_object(ENDPOINT, envelope)
    with pytest.raises(AltcraftBadResponseError, match="'data' is not a list of objects"):
        _data_list(ENDPOINT, {"data": [1]})
