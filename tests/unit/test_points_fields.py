"""The one declaration of the redeem/accrue fields (points_fields.py) and everything that must
agree with it: the request dataclass, the operators' explicit signatures, the hook's and the
batch operator's arguments, the parse-time checks and the generated parameter table."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.batch.rows import CONSTANT_FIELDS, ROW_FIELDS
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import Matching, PointsRequest
from airflow_provider_altcraft.operators.base import SINGLE_ARGUMENT_CHECKS
from airflow_provider_altcraft.operators.batch import AltcraftBatchPointsOperator
from airflow_provider_altcraft.operators.loyalty import (
    AltcraftAccruePointsOperator,
    AltcraftRedeemPointsOperator,
    _PointsOperator,
)
from airflow_provider_altcraft.points_fields import (
    POINTS_FIELDS,
    PointsField,
    operator_arguments,
    operator_fields,
    request_fields,
)

REPO = Path(__file__).resolve().parents[2]


def _own_parameters(function: Callable[..., Any]) -> list[inspect.Parameter]:
    """An ``__init__``'s keyword parameters, without self, **kwargs and check_existing."""
    return [
        parameter
        for name, parameter in inspect.signature(function).parameters.items()
        if name not in ("self", "check_existing") and parameter.kind != parameter.VAR_KEYWORD
    ]


def _assert_matches(parameters: list[inspect.Parameter], fields: list[PointsField]) -> None:
    assert [p.name for p in parameters] == [f.operator_argument for f in fields]
    for parameter, field in zip(parameters, fields, strict=True):
        expected = parameter.empty if field.required else field.default
        assert parameter.default == expected, field.name
        assert parameter.annotation == field.annotation, field.name  # postponed: a string


def test_names_are_unique_and_the_matching_fields_come_last() -> None:
    names = [field.name for field in POINTS_FIELDS]
    assert len(set(names)) == len(names)
    kinds = [field.is_matching for field in POINTS_FIELDS]
    assert kinds == sorted(kinds)


def test_the_request_dataclass_holds_exactly_the_declared_fields() -> None:
    attributes = {f.name for f in dataclasses.fields(PointsRequest)}
    assert attributes == {"operation", "matching", *(f.name for f in request_fields())}
    defaults = {f.name: f.default for f in dataclasses.fields(PointsRequest)}
    for field in request_fields():
        if not field.required:
            assert defaults[field.name] == field.default, field.name


def test_the_single_operators_signatures_spell_out_the_declaration() -> None:
    common = list(operator_fields("redeem"))
    accrue_only = [f for f in operator_fields("accrue") if f.accrue_only]
    _assert_matches(_own_parameters(_PointsOperator.__init__), common)
    _assert_matches(_own_parameters(AltcraftAccruePointsOperator.__init__), accrue_only)
    assert "activation_date" not in AltcraftRedeemPointsOperator.template_fields
    for operator in (AltcraftRedeemPointsOperator, AltcraftAccruePointsOperator):
        assert tuple(operator.template_fields) == (
            "altcraft_conn_id",
            *operator_arguments(operator.operation),
        )


def test_the_hook_methods_take_every_request_field() -> None:
    for method, operation in ((AltcraftHook.redeem_points, "redeem"),
                              (AltcraftHook.accrue_points, "accrue")):  # fmt: skip
        parameters = inspect.signature(method).parameters
        fields = request_fields(operation)  # type: ignore[arg-type]
        assert set(parameters) - {"self", "matching"} == {f.name for f in fields}
        for field in fields:
            expected = inspect.Parameter.empty if field.required else field.default
            assert parameters[field.name].default == expected, field.name


def test_the_batch_operator_takes_every_constant() -> None:
    parameters = inspect.signature(AltcraftBatchPointsOperator.__init__).parameters
    for name in CONSTANT_FIELDS:
        assert name in parameters
        assert name in AltcraftBatchPointsOperator.template_fields
    assert set(CONSTANT_FIELDS) <= set(ROW_FIELDS)
    assert "amount" in ROW_FIELDS and "amount" not in CONSTANT_FIELDS
    assert "email" in ROW_FIELDS  # rows use the API's name


def test_every_field_alone_is_checked_at_parse_time_but_the_joint_ones() -> None:
    for field in POINTS_FIELDS:
        expected = not field.is_matching and field.name != "points_currency_eid"
        assert (field.operator_argument in SINGLE_ARGUMENT_CHECKS) == expected, field.name


def test_payload_follows_the_declaration_order_and_wire_forms() -> None:
    request = PointsRequest.build(
        "accrue",
        loyalty_program_id="7",
        amount="10.50",
        matching=Matching.by_email("ann@example.com"),
        points_currency_eid="stars",
        promotion_id=12,
        is_temp="true",
        temp_timeout_sec=60,
        created_at="2024-09-01T12:00:00+03:00",
        transaction_eid="eid-1",
        external_data='{"order": 1}',
        activation_date=datetime(2024, 9, 2, tzinfo=timezone.utc),
        expiration_date="2025-09-02T00:00:00.5Z",
    )
    assert list(request.to_payload().items()) == [
        ("loyalty_program_id", 7),
        ("amount", "10.50"),
        ("is_temp", True),
        ("points_currency_eid", "stars"),
        ("promotion_id", "12"),
        ("temp_timeout_sec", 60),
        ("transaction_eid", "eid-1"),
        ("external_data", {"order": 1}),
        ("created_at", "2024-09-01T09:00:00Z"),
        ("activation_date", "2024-09-02T00:00:00Z"),
        ("expiration_date", "2025-09-02T00:00:00.500000Z"),
        ("matching", "email"),
        ("email", "ann@example.com"),
    ]
    minimal = PointsRequest.build(
        "redeem",
        loyalty_program_id=1,
        amount=Decimal("1E+2"),
        matching=Matching.by_phone("+15550000001"),
    )
    assert minimal.to_payload() == {
        "loyalty_program_id": 1, "amount": "100", "is_temp": False,
        "matching": "phone", "phone": "+15550000001",
    }  # fmt: skip


def test_build_refuses_unknown_and_missing_fields_as_a_call_would() -> None:
    matching = Matching.by_profile_id("p-1")
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['colour'\\]"):
        PointsRequest.build("redeem", loyalty_program_id=1, amount=1, matching=matching, colour=1)
    with pytest.raises(TypeError, match="missing keyword arguments \\['amount'\\]"):
        PointsRequest.build("redeem", loyalty_program_id=1, matching=matching)


def test_the_parameter_table_is_generated_from_the_declaration() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_parameters_doc", REPO / "scripts" / "gen_parameters_doc.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = (REPO / "docs" / "parameters.md").read_text(encoding="utf-8")
    assert written == module.render(), "run: python scripts/gen_parameters_doc.py"
    for field in POINTS_FIELDS:
        assert f"| `{field.name}` |" in written


def _documented(doc: str | None) -> set[str]:
    import re

    return set(re.findall(r":param (\w+):", doc or ""))


def _operator_classes() -> list[type]:
    from airflow_provider_altcraft.operators import loyalty
    from airflow_provider_altcraft.operators.base import AltcraftBaseOperator

    return [
        value
        for name, value in vars(loyalty).items()
        if isinstance(value, type)
        and issubclass(value, AltcraftBaseOperator)
        and name.startswith("Altcraft")
        and value.__module__ == loyalty.__name__
    ]


@pytest.mark.parametrize("cls", _operator_classes(), ids=lambda cls: cls.__name__)
def test_every_operator_argument_is_documented_and_nothing_else(cls: type) -> None:
    """The points and member operators' :param: lists are generated from POINTS_FIELDS: each
    argument has one, and no documented name is not an argument."""
    import inspect

    from airflow_provider_altcraft.operators.base import AltcraftBaseOperator

    arguments = {
        name
        for klass in cls.__mro__[: cls.__mro__.index(AltcraftBaseOperator) + 1]
        if "__init__" in vars(klass)
        for name, parameter in inspect.signature(klass.__init__).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert "_params}" not in (cls.__doc__ or "")
    assert _documented(cls.__doc__) == arguments


@pytest.mark.parametrize("operation", ["redeem", "accrue"])
def test_the_hook_documents_every_request_field(operation: str) -> None:
    import inspect

    from airflow_provider_altcraft.hooks.altcraft import AltcraftHook

    method = getattr(AltcraftHook, f"{operation}_points")
    assert _documented(method.__doc__) == set(inspect.signature(method).parameters) - {"self"}
