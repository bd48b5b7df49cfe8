"""Unit tests of validation.py: hostile input stops before the wire, in one clear sentence.

Each refusal names the parameter, says the problem and what is accepted
(``AltcraftValidationError``), and never echoes a value that could forge a log line.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.validation import (
    EMAIL_MAX_LENGTH,
    ID_MAX_LENGTH,
    MAX_BODY_BYTES,
    check_body_size,
    check_output_path,
    check_text,
    parse_amount,
    parse_bool,
    parse_json_object,
    parse_limit,
    parse_optional_str,
    parse_positive_int,
)

#: Arabic-Indic 3, fullwidth 5, extended Arabic-Indic 5, Devanagari 3, mathematical bold 5.
UNICODE_DIGITS = ["\u0663", "\uff15", "\u06f5", "\u0969", "\U0001d7d3", "1\u0663", "\u0663.50",
                  "5.\u0663"]  # fmt: skip
PADDED = [" 5", "5 ", "5\n", "\n5", "\t5", "5\r\n", "5\x00", "\u20005", "5\u00a0"]


@pytest.mark.parametrize("text", UNICODE_DIGITS)
def test_amounts_take_ascii_digits_only(text: str) -> None:
    with pytest.raises(AltcraftValidationError) as caught:
        parse_amount(text)
    assert caught.value.parameter == "amount"
    assert "plain decimal" in caught.value.problem or "ASCII" in caught.value.problem


@pytest.mark.parametrize("text", PADDED)
def test_amounts_with_padding_are_refused(text: str) -> None:
    with pytest.raises(AltcraftValidationError) as caught:
        parse_amount(text)
    assert caught.value.parameter == "amount"
    assert "\n" not in str(caught.value) and "\r" not in str(caught.value)


@pytest.mark.parametrize("text", [" -5", "- 5", "-5\n", "+5"])
def test_signed_or_padded_negative_amounts_are_refused(text: str) -> None:
    with pytest.raises(AltcraftValidationError, match=r"^amount: "):
        parse_amount(text)


def test_plain_amounts_still_parse() -> None:
    assert parse_amount("100.50") == Decimal("100.50")
    assert parse_amount(7) == Decimal(7)


@pytest.mark.parametrize("text", ["\u0663", "\uff15", " 5", "5\n", "+5", "1_000"])
def test_whole_numbers_take_ascii_digits_without_padding(text: str) -> None:
    with pytest.raises(AltcraftValidationError, match=r"^loyalty_program_id: "):
        parse_positive_int(text, "loyalty_program_id")


def test_whole_numbers_have_an_upper_bound() -> None:
    with pytest.raises(AltcraftValidationError, match="larger than"):
        parse_positive_int(2**63, "loyalty_program_id")
    assert parse_positive_int("42", "loyalty_program_id") == 42


CONTROL = ["\x00", "\x1b[31m", "\r", "\n", "\t", "\x7f", "\x85", "\u200b", "\u202e", "\u2028",
           "\ud800", "\ufeff"]  # fmt: skip


@pytest.mark.parametrize("char", CONTROL)
@pytest.mark.parametrize("parameter", ["transaction_eid", "transaction_id", "promotion_id"])
def test_identifiers_with_control_characters_are_refused(char: str, parameter: str) -> None:
    value = f"order-1{char}INFO forged line"
    with pytest.raises(AltcraftValidationError) as caught:
        parse_optional_str(value, parameter)
    message = str(caught.value)
    assert caught.value.parameter == parameter
    assert "control character" in message
    assert char not in message and "forged" not in message  # the value is never echoed


@pytest.mark.parametrize("value", [" order-1", "order-1 ", "order-1\n"])
def test_identifiers_with_padding_are_refused(value: str) -> None:
    with pytest.raises(AltcraftValidationError, match=r"^transaction_eid: "):
        parse_optional_str(value, "transaction_eid")


def test_identifier_length_is_bounded() -> None:
    assert ID_MAX_LENGTH == 255 and EMAIL_MAX_LENGTH == 254
    assert parse_optional_str("x" * ID_MAX_LENGTH, "transaction_eid") == "x" * ID_MAX_LENGTH
    with pytest.raises(AltcraftValidationError, match="256 characters long"):
        parse_optional_str("x" * (ID_MAX_LENGTH + 1), "transaction_eid")


def test_check_text_accepts_ordinary_unicode() -> None:
    check_text("Zoë Müller-Łukasz 山田", "field_value")


@pytest.mark.parametrize(
    "value", ["yes", "no", "1", "0", 1, 0, 2, None, " true", "true\n", "t", []]
)
def test_booleans_are_strict(value: object) -> None:
    with pytest.raises(AltcraftValidationError) as caught:
        parse_bool(value, "check_existing")
    assert caught.value.parameter == "check_existing"
    assert "True or False" in str(caught.value)


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("true", True),
                         ("False", False), ("TRUE", True)])  # fmt: skip
def test_booleans_accept_bools_and_their_rendered_text(value: object, expected: bool) -> None:
    assert parse_bool(value, "is_temp") is expected


@pytest.mark.parametrize("value", ["5", 5.0, True, None, 0, 101, -1, Decimal(5)])
def test_limit_is_an_int_in_range(value: object) -> None:
    with pytest.raises(AltcraftValidationError, match=r"^limit: .*1 to 100"):
        parse_limit(value)
    assert parse_limit(100) == 100


def test_external_data_larger_than_the_body_limit_is_refused() -> None:
    big = {"blob": "x" * MAX_BODY_BYTES}
    with pytest.raises(AltcraftValidationError, match=r"^external_data: .*10 MiB"):
        parse_json_object(big, "external_data")
    assert parse_json_object({"order": "A-1"}, "external_data") == {"order": "A-1"}


def test_external_data_that_is_not_json_is_refused_clearly() -> None:
    with pytest.raises(AltcraftValidationError, match=r"^external_data: "):
        parse_json_object({"when": object()}, "external_data")
    with pytest.raises(AltcraftValidationError, match=r"^external_data: "):
        parse_json_object({"x": float("nan")}, "external_data")
    deep: dict[str, object] = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]  # type: ignore[assignment]
    with pytest.raises(AltcraftValidationError, match=r"^external_data: "):
        parse_json_object(deep, "external_data")
    with pytest.raises(AltcraftValidationError, match=r"^external_data: "):
        parse_json_object("[" * 100000, "external_data")


def test_body_size_limit() -> None:
    check_body_size(b"{}" * 1000)
    check_body_size(b"x" * MAX_BODY_BYTES)
    with pytest.raises(AltcraftValidationError) as caught:
        check_body_size(b"x" * (MAX_BODY_BYTES + 1))
    assert caught.value.parameter == "request"
    assert "10485761 bytes" in str(caught.value) and "10 MiB" in str(caught.value)


# -- output paths ---------------------------------------------------------------------------


def test_output_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AltcraftValidationError, match=r"^results_path: .* is a directory"):
        check_output_path(str(tmp_path), "results_path")


def test_output_path_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.csv"
    target.write_text("")
    link = tmp_path / "results.csv"
    link.symlink_to(target)
    with pytest.raises(AltcraftValidationError, match=r"^results_path: .*symbolic link"):
        check_output_path(link, "results_path")
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "missing.csv")
    with pytest.raises(AltcraftValidationError, match=r"symbolic link"):
        check_output_path(dangling, "results_path")


def test_output_path_whose_part_file_is_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "export.csv.part").mkdir()
    with pytest.raises(AltcraftValidationError, match=r"^output_path: .*export.csv.part"):
        check_output_path(tmp_path / "export.csv", "output_path", partial_suffix=".part")


def test_output_path_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("")
    with pytest.raises(AltcraftValidationError, match=r"is not a directory"):
        check_output_path(tmp_path / "plain" / "results.csv", "results_path")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_path_in_an_unwritable_directory_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(AltcraftValidationError, match=r"not writable"):
            check_output_path(locked / "results.csv", "results_path")
    finally:
        locked.chmod(0o700)


def test_output_path_unwritable_by_permission_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same refusal, with the permission check answering "no" (these tests may run as root)."""
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(AltcraftValidationError, match=r"^results_path: .*not writable"):
        check_output_path(tmp_path / "new" / "results.csv", "results_path")


@pytest.mark.parametrize("value", [None, "", 5, "a\nb.csv", "x\x00.csv"])
def test_output_path_must_be_a_clean_path(value: object) -> None:
    with pytest.raises(AltcraftValidationError, match=r"^results_path: "):
        check_output_path(value, "results_path")


def test_a_fine_output_path_is_returned(tmp_path: Path) -> None:
    new = tmp_path / "a" / "b.csv"
    assert check_output_path(str(new), "results_path") == new
    existing = tmp_path / "old.csv"
    existing.write_text("")
    assert check_output_path(existing, "results_path") == existing


def test_messages_are_one_sentence_without_tracebacks() -> None:
    with pytest.raises(AltcraftValidationError) as caught:
        parse_json_object("{not json", "external_data")
    assert "Traceback" not in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1
    assert json.loads('{"a": 1}') == parse_json_object('{"a": 1}', "external_data")
