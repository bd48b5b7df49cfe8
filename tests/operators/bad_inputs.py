"""The table of bad operator arguments, and the DAG that renders each one through Jinja.

Each case changes a valid redeem (or accrue) in one way and names the argument its error must
name. Static, the operator refuses it when the DAG is parsed; templated, the task refuses it
after rendering, before any request, and without retries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: Program 1 holds stars; redeem and accrue require a currency (exactly-once eid lookups).
VALID: dict[str, Any] = {
    "loyalty_program_id": 1,
    "profile_email": "ann@example.com",
    "amount": "25.00",
    "points_currency_eid": "stars",
}
NO_EMAIL: dict[str, Any] = {"profile_email": None}
#: For the cases naming the currency by its iid alone.
NO_CURRENCY_EID: dict[str, Any] = {"points_currency_eid": None}
CONTROL_TASK = "valid_control"


@dataclass(frozen=True)
class BadInput:
    case_id: str
    arguments: dict[str, Any]
    parameter: str
    operator: str = "redeem"
    #: Jinja for a value that DAG params cannot hold (params must be JSON).
    templates: dict[str, str] = field(default_factory=dict)

    @property
    def native(self) -> bool:
        """Rendered with ``render_template_as_native_obj`` (the bad value is not a string)."""
        return any(value is not None and not isinstance(value, str) for value in self.values())

    def values(self) -> list[Any]:
        return list(self.arguments.values())

    def static_arguments(self) -> dict[str, Any]:
        return {**VALID, **self.arguments}

    def templated_arguments(self) -> dict[str, Any]:
        """The changed arguments as Jinja (None stays None: it means "not given"), or the
        case's own template for a name in ``templates``."""
        templated = {name: self._template(name, value) for name, value in self.arguments.items()}
        return {**VALID, **templated}

    def _template(self, name: str, value: Any) -> str | None:
        if name in self.templates:
            return self.templates[name]
        return None if value is None else f"{{{{ params.cases.{self.case_id}.{name} }}}}"

    def params(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in self.arguments.items()
            if value is not None and name not in self.templates
        }


def case(case_id: str, parameter: str, operator: str = "redeem", **arguments: Any) -> BadInput:
    return BadInput(case_id, arguments, parameter, operator)


CASES = [
    case("amount_word", "amount", amount="abc"),
    case("amount_negative", "amount", amount="-5"),
    case("amount_exponent", "amount", amount="1e3"),
    case("amount_float", "amount", amount=10.5),
    case("amount_empty", "amount", amount=""),
    case("amount_three_places", "amount", amount="1.234"),
    case("amount_zero", "amount", amount=0),
    case("amount_zero_text", "amount", amount="0.00"),
    case("amount_too_large", "amount", amount="10000000000"),
    case("amount_bool", "amount", amount=True),
    case("amount_comma", "amount", amount="1,50"),
    case("amount_list", "amount", amount=[25]),
    case(
        "currency_iid_is_a_name",
        "points_currency_iid",
        **NO_CURRENCY_EID,
        points_currency_iid="stars",
    ),
    case(
        "currency_both", "points_currency_iid", points_currency_iid=1, points_currency_eid="stars"
    ),
    case("currency_eid_blank", "points_currency_eid", points_currency_eid=" "),
    case("currency_iid_zero", "points_currency_iid", **NO_CURRENCY_EID, points_currency_iid=0),
    # No currency at all: static, the DAG import fails; templated, it renders empty.
    BadInput(
        "currency_missing",
        {"points_currency_eid": None},
        "points_currency_eid",
        templates={"points_currency_eid": "{{ '' }}"},
    ),
    BadInput(
        "currency_missing_accrue",
        {"points_currency_eid": None},
        "points_currency_eid",
        "accrue",
        templates={"points_currency_eid": "{{ params.get('no_such_param', '') }}"},
    ),
    case("created_at_word", "created_at", created_at="yesterday"),
    BadInput(
        "created_at_naive",
        {"created_at": datetime(2024, 9, 1, 12, 0)},
        "created_at",
        templates={"created_at": "{{ macros.datetime(2024, 9, 1, 12, 0) }}"},
    ),
    case("created_at_date_only", "created_at", created_at="2024-09-01"),
    case("created_at_no_offset", "created_at", created_at="2024-09-01T12:00:00"),
    case("external_data_list", "external_data", external_data=["order", 1]),
    case("external_data_text", "external_data", external_data="order-1"),
    case("external_data_number", "external_data", external_data=42),
    case("temp_timeout_without_is_temp", "temp_timeout_sec", temp_timeout_sec=60),
    case("temp_timeout_zero", "temp_timeout_sec", is_temp=True, temp_timeout_sec=0),
    case("is_temp_yes", "is_temp", is_temp="yes"),
    case("program_zero", "loyalty_program_id", loyalty_program_id=0),
    case("program_word", "loyalty_program_id", loyalty_program_id="x"),
    case("program_negative", "loyalty_program_id", loyalty_program_id="-1"),
    case("phone_without_plus", "phone", **NO_EMAIL, phone="15550000001"),
    case("email_without_at", "profile_email", profile_email="ann.example.com"),
    case("email_missing_for_mode", "profile_email", **NO_EMAIL, matching="email"),
    case(
        "custom_without_value", "field_value", **NO_EMAIL, matching="custom", field_name="user_id"
    ),
    case("custom_without_name", "field_name", **NO_EMAIL, matching="custom", field_value="1001"),
    case("custom_blank_value", "field_value", **NO_EMAIL, field_name="user_id", field_value=" "),
    case("matching_sms", "matching", matching="sms"),
    case("email_and_phone", "matching", phone="+15550000001"),
    case("phone_mode_with_email", "profile_email", matching="phone", phone="+15550000001"),
    case("email_mode_with_profile_id", "profile_id", matching="email", profile_id="p-1"),
    case("eid_blank", "transaction_eid", transaction_eid=" "),
    case("eid_too_long", "transaction_eid", transaction_eid="x" * 300),
    case("promotion_blank", "promotion_id", promotion_id=""),
    case(
        "expiry_before_activation",
        "expiration_date",
        "accrue",
        activation_date="2024-10-01T00:00:00Z",
        expiration_date="2024-09-01T00:00:00Z",
    ),
    case("activation_word", "activation_date", "accrue", activation_date="tomorrow"),
]


def templated_dag(dag_id: str, *, native: bool) -> Any:
    """One task per case of this rendering mode, the bad value coming from the DAG params."""
    import pendulum
    from airflow import DAG

    from airflow_provider_altcraft.operators.loyalty import (
        AltcraftAccruePointsOperator,
        AltcraftRedeemPointsOperator,
    )
    from tests.operators.dag_support import record_failure

    operators = {"redeem": AltcraftRedeemPointsOperator, "accrue": AltcraftAccruePointsOperator}
    cases = [bad for bad in CASES if bad.native == native]
    with DAG(
        dag_id,
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        render_template_as_native_obj=native,
        params={"cases": {bad.case_id: bad.params() for bad in cases}},
        # Retries are allowed: a bad argument must fail the task without using them.
        default_args={
            "retries": 2,
            "retry_delay": timedelta(0),
            "on_failure_callback": record_failure,
        },
    ) as dag:
        for bad in cases:
            operators[bad.operator](task_id=bad.case_id, **bad.templated_arguments())
        if not native:
            # The control: rendered the same way, valid, so it does reach the sandbox.
            AltcraftRedeemPointsOperator(
                task_id=CONTROL_TASK, **{**VALID, "amount": "{{ '1.00' }}"}
            )
    return dag
