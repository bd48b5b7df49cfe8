"""``Matching`` validates whenever it is built: by its shortcuts, from parameters, or directly."""

from __future__ import annotations

import pytest

from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.models import Matching

FORGE = "\nINFO forged log line"


@pytest.mark.parametrize(
    ("build", "parameter"),
    [
        (lambda: Matching.by_email("ann@example.com" + FORGE), "email"),
        (lambda: Matching.by_email("ann@example.com\n"), "email"),
        (lambda: Matching.by_email("ann\x00@example.com"), "email"),
        (lambda: Matching.by_email("ann@exa\u202emple.com"), "email"),
        (lambda: Matching.by_email(" ann@example.com"), "email"),
        (lambda: Matching.by_email("a" * 250 + "@example.com"), "email"),
        (lambda: Matching.by_phone("+15550000001\r"), "phone"),
        (lambda: Matching.by_phone("+1555\uff10000001"), "phone"),  # a fullwidth zero
        (lambda: Matching.by_phone("+1555\u0660000001"), "phone"),  # an Arabic-Indic zero
        (lambda: Matching.by_profile_id("p-1" + FORGE), "profile_id"),
        (lambda: Matching.by_profile_id("p\x1b[2J"), "profile_id"),
        (lambda: Matching.by_profile_id("p" * 256), "profile_id"),
        (lambda: Matching.by_custom_field("user_id\t", "1"), "field_name"),
        (lambda: Matching.by_custom_field("user_id", "1001" + FORGE), "field_value"),
        (lambda: Matching.by_custom_field("user_id", "v" * 256), "field_value"),
        (lambda: Matching.by_custom_field("user_id", 2**70), "field_value"),
        (lambda: Matching("email", "not-an-address"), "email"),
        (lambda: Matching("email", "ann@example.com" + FORGE), "email"),
        (lambda: Matching("phone", 15550000001), "phone"),
        (lambda: Matching("profile_id", ""), "profile_id"),
        (lambda: Matching("profile_id", "p\n1"), "profile_id"),
        (lambda: Matching("sms", "x"), "matching"),  # type: ignore[arg-type]
        (lambda: Matching("custom", "1"), "field_name"),
        (lambda: Matching("custom", None, "user_id"), "field_value"),  # type: ignore[arg-type]
        (lambda: Matching("email", "ann@example.com", "user_id"), "field_name"),
        (lambda: Matching.from_params(email="ann@example.com\r\nX: y"), "email"),
        (
            lambda: Matching.from_params("email", email=" ann@example.com ", email_argument="mail"),
            "mail",
        ),
    ],
)
def test_matching_values_are_checked_on_construction(build: object, parameter: str) -> None:
    with pytest.raises(AltcraftValidationError) as caught:
        build()  # type: ignore[operator]
    message = str(caught.value)
    assert caught.value.parameter == parameter, message
    assert message.startswith(f"{parameter}: ")
    assert "forged" not in message and "\n" not in message and "\x1b" not in message


def test_valid_matchings_still_build() -> None:
    assert Matching.by_email("ann@example.com").to_payload() == {
        "matching": "email",
        "email": "ann@example.com",
    }
    assert Matching("phone", "+15550000001").value == "+15550000001"
    assert Matching.by_custom_field("user_id", 1001).to_payload()["field_value"] == 1001
    assert Matching.by_profile_id(17).value == "17"
    assert Matching.by_custom_field("name", "Zoë Łukasz").value == "Zoë Łukasz"


@pytest.mark.parametrize(
    "value",
    [{"matching": "email", "email": "ann@example.com"}, "ann@example.com", None, ("email", "a")],
)
def test_something_else_than_a_matching_is_refused(value: object) -> None:
    with pytest.raises(AltcraftValidationError) as caught:
        Matching.check(value)
    assert caught.value.parameter == "matching"
    assert "Matching.by_email" in str(caught.value)
    assert Matching.check(Matching.by_email("ann@example.com")).mode == "email"
