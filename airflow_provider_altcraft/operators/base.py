"""What every Altcraft operator shares: the connection, the hook and argument checking.

Arguments are checked twice, by the same code: when the DAG file is parsed (for arguments
that are not templated, so a typo fails the DAG import; once per operator, when its last
``__init__`` has set every argument) and at execute time after rendering, before any HTTP call.
A bad argument at execute time fails the task without retries: a retry cannot fix it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_altcraft import exceptions, storage
from airflow_provider_altcraft.compat import (
    AirflowException,
    AirflowFailException,
    BaseOperator,
    Context,
    XComArg,
    mask_secret,
)

# Re-exported: the eid rules' old import path (they live in airflow_provider_altcraft.eids).
from airflow_provider_altcraft.eids import (
    TRANSACTION_EID_NAMESPACE as TRANSACTION_EID_NAMESPACE,
)
from airflow_provider_altcraft.eids import (
    derive_transaction_eid as derive_transaction_eid,
)
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import Matching
from airflow_provider_altcraft.points_fields import POINTS_FIELDS, SINGLE_CHECKS
from airflow_provider_altcraft.validation import (
    currency_payload,
    parse_datetime,
    parse_optional_str,
    parse_positive_int,
)

if TYPE_CHECKING:
    import jinja2

#: Operator arguments that let Altcraft find the profile (see :class:`Matching`; declared in
#: points_fields.py). The profile's e-mail is ``profile_email``, not the API's name ``email``:
#: BaseOperator's ``email`` is the alert address, which Airflow fills from ``default_args`` and
#: sends failure e-mails to.
MATCHING_ARGUMENTS: tuple[str, ...] = tuple(
    field.operator_argument for field in POINTS_FIELDS if field.is_matching
)
#: Arguments holding personal data, masked in rendered fields and logs.
PERSONAL_ARGUMENTS = ("profile_email", "phone")


def _check_optional(check: Callable[[object, str], object]) -> Callable[[object, str], object]:
    return lambda value, name: None if value is None else check(value, name)


#: Checks of single arguments, run at parse time on the arguments that are not templated
#: when others are (the whole set is checked together once everything is rendered): those of
#: the redeem/accrue fields (declared in points_fields.py) and of the other operators'.
SINGLE_ARGUMENT_CHECKS: dict[str, Callable[[object, str], object]] = {
    **SINGLE_CHECKS,
    "tiers_group_id": parse_positive_int,
    "registration_date": _check_optional(parse_datetime),
    "transaction_id": parse_optional_str,
}


def is_dynamic(value: object) -> bool:
    """True for a value only known at run time: a Jinja template or an XComArg (nested too).

    :param value: an argument's value as the DAG file gave it.
    """
    if isinstance(value, XComArg):
        return True
    if isinstance(value, str):
        return any(marker in value for marker in ("{{", "{%", "{#"))
    if isinstance(value, Mapping):
        return any(is_dynamic(key) or is_dynamic(item) for key, item in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(is_dynamic(item) for item in value)
    return False


#: Kept for old imports: :meth:`Matching.from_values`.
matching_from = Matching.from_values


def check_path_argument(value: object, parameter: str) -> None:
    """A path argument's text (an ``ObjectStoragePath`` is checked by storage) is a non-empty
    string of at most 4096 characters."""
    if isinstance(value, str):
        parse_optional_str(value, parameter, max_length=4096)


def check_reachable(path: object, parameter: str) -> bool:
    """Whether a file is at ``path``, asked at run time before any request to Altcraft: a
    URI's filesystem is opened, so a scheme or connection this worker lacks fails the task
    without retry, in one sentence; a store that does not answer fails the try (retried)."""
    try:
        return storage.exists(path, parameter)
    except storage.StorageUnavailableError as exc:
        raise AirflowException(f"{exc}; nothing was requested from Altcraft") from None
    except AltcraftValidationError as exc:
        raise AirflowFailException(f"Invalid argument: {exc}") from None


def matching_from_arguments(values: Mapping[str, Any]) -> Matching:
    """The member's :class:`Matching` from the operator arguments (``profile_email`` is the
    e-mail).

    :param values: the arguments by name.
    """
    return Matching.from_values(values, email_key="profile_email")


def check_currency(values: Mapping[str, Any]) -> dict[str, Any]:
    """The checked points-currency arguments, as the API's payload (empty when none given).

    :param values: the arguments by name (``points_currency_iid``, ``points_currency_eid``).
    """
    return currency_payload(values.get("points_currency_iid"), values.get("points_currency_eid"))


class AltcraftEidSettledError(exceptions.AltcraftEidSettledError, AirflowFailException):
    """:class:`airflow_provider_altcraft.exceptions.AltcraftEidSettledError` as a task raises
    it: also an ``AirflowFailException``, so the task fails without retries (a retry cannot
    change a settled eid), and callbacks and the log see this class's name."""

    @classmethod
    def from_error(cls, error: exceptions.AltcraftEidSettledError) -> AltcraftEidSettledError:
        """The task-level error for the hook's.

        :param error: the hook's error
            (:class:`airflow_provider_altcraft.exceptions.AltcraftEidSettledError`).
        """
        return cls(error.transaction_eid, error.transaction_id, error.status)


# Type checkers see the mixin's base (whose methods it extends); at run time the mixin has
# none, so a sensor takes it with BaseSensorOperator without inheriting BaseOperator twice.
_TaskBase = BaseOperator if TYPE_CHECKING else object


class AltcraftTaskMixin(_TaskBase):  # type: ignore[misc,valid-type]
    """What every Altcraft task (operator or sensor) shares: the hook, argument checking at
    parse and execute time, rendering that keeps plain strings as written, and masking of the
    member's e-mail and phone.

    Classes list their user-facing arguments in ``template_fields`` (all of them are
    templated), set ``altcraft_conn_id``, and implement :meth:`build`, which turns the argument
    values into the validated request object.
    """

    altcraft_conn_id: str

    def render_template(
        self,
        content: Any,
        context: Context,
        jinja_env: jinja2.Environment | None = None,
        seen_oids: set[int] | None = None,
    ) -> Any:
        """Render as Airflow does, but keep a string without Jinja markup as written.

        With ``render_template_as_native_obj`` Airflow would literal_eval such a string too,
        turning ``amount="25.00"`` into a float and ``phone="+15550000001"`` into an int.

        :param content: the value to render.
        :param context: the task's context.
        :param jinja_env: the Jinja environment (default: the DAG's).
        :param seen_oids: objects already rendered (Airflow's guard against cycles).
        """
        if isinstance(content, str) and not is_dynamic(content):
            return content
        return super().render_template(content, context, jinja_env, seen_oids)

    def _do_render_template_fields(self, *args: Any, **kwargs: Any) -> None:
        """Render, then register the member's e-mail and phone with Airflow's secrets masker:
        the rendered fields Airflow stores (and shows in the UI) and the logs get them masked.

        Overridden here, not in ``render_template_fields``: a mapped task (``.partial()
        .expand()``) is rendered by the mapped operator calling this on the unmapped task, on
        Airflow 2.11 and 3.x alike, and values that came from ``expand`` are not templates at
        all, so this runs after every path that sets them.
        """
        super()._do_render_template_fields(*args, **kwargs)  # type: ignore[misc]
        for name in PERSONAL_ARGUMENTS:
            value = getattr(self, name, None)
            if isinstance(value, str) and value.strip():
                mask_secret(value)

    @cached_property
    def hook(self) -> AltcraftHook:
        return AltcraftHook(altcraft_conn_id=self.altcraft_conn_id)

    def _lineage_base_url(self) -> str | None:
        """The Altcraft account's base URL, naming its ledger in lineage; None without a
        usable connection (lineage never fails a task)."""
        try:
            return str(self.hook.settings.base_url)
        except Exception:
            return None

    def build(self, values: Mapping[str, Any]) -> Any:
        """Validate the argument values into the request object.

        :param values: the argument values by name (rendered, at execute time).
        :raises AltcraftValidationError: an argument is bad.
        """
        raise NotImplementedError

    def _argument_values(self) -> dict[str, Any]:
        return {name: getattr(self, name, None) for name in self.template_fields}

    def _store_arguments(self, arguments: Mapping[str, Any]) -> None:
        """Set the template fields found in ``arguments`` (an ``__init__``'s ``locals()``)."""
        for name in self.template_fields:
            if name in arguments and name != "altcraft_conn_id":
                setattr(self, name, arguments[name])

    def check_arguments_at_parse_time(self) -> None:
        """Fail the DAG import on a static mistake; templated values wait for execute().

        Every ``__init__`` of the chain may call this after setting its arguments: it checks
        once, when every template field is set (the most derived ``__init__``'s call).
        """
        if getattr(self, "_BaseOperator__from_mapped", False):
            # A mapped task being unmapped at run time (Airflow sets this private flag on both
            # 2.11 and 3.x). An error raised here would be retried; execute() checks every
            # rendered value and fails without retry.
            return
        if not all(hasattr(self, name) for name in self.template_fields):
            return  # a subclass's __init__ sets the rest, then calls this again
        values = self._argument_values()
        if not any(is_dynamic(value) for value in values.values()):
            self.build(values)
            return
        for name, value in values.items():
            check = SINGLE_ARGUMENT_CHECKS.get(name)
            if check is not None and not is_dynamic(value):
                check(value, name)
        self.check_static_rules(values)

    def check_static_rules(self, values: Mapping[str, Any]) -> None:
        """Rules of the operator that hold whatever the templates render (parse time, when
        some argument is templated; :meth:`build` checks them otherwise).

        :param values: the argument values by name, some of them still templates.
        """

    def build_for_execute(self) -> Any:
        """The validated request from the rendered arguments; a bad one fails without retry."""
        try:
            return self.build(self._argument_values())
        except AltcraftValidationError as exc:
            raise AirflowFailException(f"Invalid argument: {exc}") from None


class AltcraftBaseOperator(AltcraftTaskMixin, BaseOperator):
    """Base of the Altcraft operators (see :class:`AltcraftTaskMixin`).

    :param altcraft_conn_id: the Airflow connection (type ``altcraft``), templated; default
        ``altcraft_default``.
    """

    template_fields: Sequence[str] = ("altcraft_conn_id",)
    ui_color = "#f0e4ff"

    def __init__(self, *, altcraft_conn_id: str = AltcraftHook.default_conn_name, **kwargs: Any):
        super().__init__(**kwargs)
        self.altcraft_conn_id = altcraft_conn_id
