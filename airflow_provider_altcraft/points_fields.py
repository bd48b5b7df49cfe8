"""The fields of a redeem/accrue request, declared once.

Everything that lists the request's fields is derived from :data:`POINTS_FIELDS`:

* ``PointsRequest.build`` (each field's parser) and ``PointsRequest.to_payload`` (its wire
  form, in declaration order) in :mod:`airflow_provider_altcraft.models`;
* the single operators' ``template_fields``, the values their ``__init__`` stores and their
  ``build`` (:mod:`airflow_provider_altcraft.operators.loyalty`), and the parse-time checks of
  single arguments (``SINGLE_ARGUMENT_CHECKS`` in :mod:`airflow_provider_altcraft.operators.base`);
* a batch's row fields and per-batch constants (``ROW_FIELDS``, ``CONSTANT_FIELDS`` in
  :mod:`airflow_provider_altcraft.batch_rows`);
* the parameter table ``docs/parameters.md`` (``scripts/gen_parameters_doc.py``) and the
  ``:param:`` field lists of the operators' and the hook's docstrings (:func:`param_docs`).

The operators keep explicit ``__init__`` signatures (Airflow and IDEs read them);
``tests/unit/test_points_fields.py`` checks that they, the ``PointsRequest`` dataclass and the
generated table match this declaration.

Adding a field: a :class:`PointsField` here, the attribute on ``PointsRequest``, the argument in
the operators' ``__init__`` (and the hook's ``redeem_points``/``accrue_points``; the batch
operator's for a per-batch constant), then ``python scripts/gen_parameters_doc.py``. The tests
name whatever was missed. Only the standard library is imported (DAG parse time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from airflow_provider_altcraft.validation import (
    format_amount,
    format_rfc3339,
    parse_amount,
    parse_bool,
    parse_datetime,
    parse_json_object,
    parse_optional_positive_int,
    parse_optional_str,
    parse_positive_int,
)

Operation = Literal["redeem", "accrue"]
#: ``row``: a column of each batch row only; ``row_or_constant``: a column, or a value the batch
#: operator gives once for every row (a row's own value wins).
BatchUse = Literal["row", "row_or_constant"]


def _parse_promotion_id(value: object, parameter: str) -> str | None:
    """A promotion id: a string, or an int (sent as its text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return parse_optional_str(value, parameter)


def _optional(parse: Callable[[object, str], Any]) -> Callable[[object, str], Any]:
    return lambda value, name: None if value is None else parse(value, name)


@dataclass(frozen=True)
class PointsField:
    """One field of a redeem/accrue request."""

    #: The API parameter, the ``PointsRequest`` attribute and the batch row column.
    name: str
    #: The operators' argument type, exactly as their ``__init__`` annotates it.
    annotation: str
    #: One line for the parameter table.
    doc: str
    #: Raw value (as a DAG author, a row or the hook gives it) -> the request's value; raises
    #: ``AltcraftValidationError`` naming the parameter. None for the matching arguments,
    #: which only :class:`~airflow_provider_altcraft.models.Matching` validates, together.
    parse: Callable[[object, str], Any] | None
    #: The operators' argument has no default (``None`` fails its parser).
    required: bool = False
    #: The operators' default; also what a batch row without a value gets.
    default: object = None
    batch: BatchUse = "row_or_constant"
    #: Only ``loyalty/accrue_points`` takes it; a redemption refuses it.
    accrue_only: bool = False
    #: Request value -> JSON value; None: sent as is. A None value is never sent.
    wire: Callable[[Any], Any] | None = None
    #: The operators' argument name when it differs from the API's (``profile_email``).
    argument: str | None = None
    #: Checked on its own at parse time when other arguments are templated (False: the
    #: request's joint rule checks it, see ``points_currency_eid``).
    check_alone: bool = True

    @property
    def operator_argument(self) -> str:
        return self.argument or self.name

    @property
    def is_matching(self) -> bool:
        return self.parse is None

    def check(self, value: object, parameter: str) -> object:
        """The parse-time check of the value alone: its parser; None passes unless required."""
        if self.parse is None or (value is None and not self.required):
            return value
        return self.parse(value, parameter)


#: The request's own fields, in wire order (``to_payload`` emits them in this order), then the
#: matching arguments (sent as :meth:`Matching.to_payload` gives them, after the rest).
POINTS_FIELDS: tuple[PointsField, ...] = (
    PointsField(
        "loyalty_program_id",
        "int | str",
        "The loyalty program.",
        parse_positive_int,
        required=True,
    ),
    PointsField(
        "amount",
        "Decimal | int | str",
        "Points: a positive decimal with at most 2 places; a float is refused.",
        parse_amount,
        required=True,
        batch="row",
        wire=format_amount,
    ),
    PointsField(
        "is_temp",
        "bool | str",
        "A temporary transaction (held until commit / rollback).",
        parse_bool,
        default=False,
    ),
    PointsField(
        "points_currency_iid",
        "int | str | None",
        "The currency's internal id (or give points_currency_eid).",
        parse_optional_positive_int,
    ),
    PointsField(
        "points_currency_eid",
        "str | None",
        "The currency's external id (or give points_currency_iid).",
        parse_optional_str,
        check_alone=False,
    ),
    PointsField(
        "promotion_id",
        "str | None",
        "The promotion the transaction belongs to (an int is sent as text).",
        _parse_promotion_id,
    ),
    PointsField(
        "temp_timeout_sec",
        "int | str | None",
        "Seconds until Altcraft rolls a temporary transaction back (needs is_temp).",
        parse_optional_positive_int,
    ),
    PointsField(
        "transaction_eid",
        "str | None",
        "The exactly-once key; derived when not given (see eids.py).",
        parse_optional_str,
        batch="row",
    ),
    PointsField(
        "external_data",
        "dict[str, Any] | str | None",
        "A JSON object stored with the transaction.",
        parse_json_object,
    ),
    PointsField(
        "created_at",
        "datetime | str | None",
        "When it happened: an aware datetime or RFC3339, sent as RFC3339 UTC.",
        _optional(parse_datetime),
        wire=format_rfc3339,
    ),
    PointsField(
        "activation_date",
        "datetime | str | None",
        "When the accrued points become active.",
        _optional(parse_datetime),
        accrue_only=True,
        wire=format_rfc3339,
    ),
    PointsField(
        "expiration_date",
        "datetime | str | None",
        "When the accrued points expire (after activation_date).",
        _optional(parse_datetime),
        accrue_only=True,
        wire=format_rfc3339,
    ),
    # The matching arguments (Matching validates them together).
    PointsField(
        "matching",
        "str | None",
        "email, phone, profile_id or custom; inferred when one field below is given.",
        None,
    ),
    PointsField(
        "email",
        "str | None",
        "The member's e-mail (operators: profile_email; email is Airflow's alert address).",
        None,
        batch="row",
        argument="profile_email",
    ),
    PointsField(
        "phone",
        "str | None",
        "The member's phone, international: '+' and 7 to 15 digits.",
        None,
        batch="row",
    ),
    PointsField("profile_id", "str | None", "The member's profile id.", None, batch="row"),
    PointsField(
        "field_name", "str | None", "matching='custom': the profile field.", None, batch="row"
    ),
    PointsField(
        "field_value",
        "str | int | None",
        "matching='custom': the field's value.",
        None,
        batch="row",
    ),
)

FIELDS_BY_NAME: dict[str, PointsField] = {field.name: field for field in POINTS_FIELDS}


def request_fields(operation: Operation | None = None) -> tuple[PointsField, ...]:
    """The fields ``PointsRequest`` holds as attributes (not matching), of one operation or
    of both."""
    return tuple(
        field
        for field in POINTS_FIELDS
        if not field.is_matching and (operation != "redeem" or not field.accrue_only)
    )


def operator_fields(operation: Operation) -> tuple[PointsField, ...]:
    """The fields an operator takes as arguments, in its ``template_fields`` order: the
    request's fields (the accrue-only ones last), then the matching arguments."""
    own = [field for field in request_fields(operation) if not field.accrue_only]
    return (
        *own,
        *(field for field in POINTS_FIELDS if field.is_matching),
        *(field for field in request_fields(operation) if field.accrue_only),
    )


def operator_arguments(operation: Operation) -> tuple[str, ...]:
    return tuple(field.operator_argument for field in operator_fields(operation))


def param_docs(fields: Iterable[PointsField], *, hook: bool = False, indent: int = 4) -> str:
    """The Sphinx ``:param:`` lines of ``fields``, indented for a docstring: the operators'
    argument names, or (``hook``) the API's names with the matching fields as the hook's one
    ``matching`` argument. Docstrings insert it where they say ``{points_params}``."""
    lines = []
    for field in fields:
        if hook and field.is_matching:
            continue
        lines.append(f":param {field.name if hook else field.operator_argument}: {field.doc}")
    if hook:
        lines.append(
            ":param matching: the member, a :class:`~airflow_provider_altcraft.models.Matching`."
        )
    return ("\n" + " " * indent).join(lines)


#: The columns a batch row may carry (everything else is ignored, except the row key column).
ROW_FIELDS: tuple[str, ...] = tuple(field.name for field in POINTS_FIELDS)
#: The fields a batch operator may give once for every row (a row's own value wins).
CONSTANT_FIELDS: tuple[str, ...] = tuple(
    field.name for field in POINTS_FIELDS if field.batch == "row_or_constant"
)
#: The parse-time checks of single arguments (a name -> ``check(value, name)``).
SINGLE_CHECKS: dict[str, Callable[[object, str], object]] = {
    field.operator_argument: field.check
    for field in POINTS_FIELDS
    if not field.is_matching and field.check_alone
}
