"""The ``altcraft`` connection: its extra fields, their defaults, and how they are read.

One table drives the UI form on every Airflow version (provider info on 3.2+, the hook's
classmethods on 2.11) and the parser the hook uses, so a field is declared once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow_provider_altcraft.exceptions import AltcraftConfigError

TokenPlacement = Literal["header", "body"]


@dataclass(frozen=True)
class ExtraField:
    name: str
    label: str
    description: str
    type: Literal["number", "integer", "boolean", "string"]
    default: Any
    choices: tuple[str, ...] = ()
    #: Numbers: the smallest value accepted, and whether that value itself is refused.
    minimum: float | None = None
    exclusive: bool = False
    #: Numbers: the largest value accepted (a sane bound: beyond it a value is a typo or a
    #: unit mistake, such as milliseconds for seconds, and would hang or flood).
    maximum: float | None = None
    #: Older names of the same extra, still read (a saved connection keeps working).
    legacy_names: tuple[str, ...] = ()


EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField("timeout", "Read timeout (s)", "Seconds to wait for an answer.", "number", 30.0,
               minimum=0, exclusive=True, maximum=3600),
    ExtraField("connect_timeout", "Connect timeout (s)", "Seconds to wait for a connection.",
               "number", 10.0, minimum=0, exclusive=True, maximum=600),
    ExtraField("verify", "Verify TLS", "Verify the server's TLS certificate.", "boolean", True),
    ExtraField("ca_bundle", "CA bundle path", "A CA bundle file to verify TLS with (optional).",
               "string", None),
    # Not named "token_...": Airflow masks every extra whose name holds "token" as a secret.
    ExtraField("auth_placement", "Send the API token in",
               "'body' (works on every Altcraft version) or 'header' (Authorization: Bearer, "
               "newer versions only).", "string", "body", ("body", "header"),
               legacy_names=("token_in",)),
    ExtraField("default_points_currency_eid", "Default points currency (eid)",
               "Currency of redeem/accrue calls that name none; their exactly-once lookups "
               "need one (empty: none).", "string", None),
    ExtraField("http_503_not_applied", "503 means not applied",
               "Re-send a redeem/accrue after HTTP 503 (only if your Altcraft guarantees a "
               "503 is never sent after applying a write). Off: look the eid up instead.",
               "boolean", False),
    ExtraField("max_retries", "Max retries", "Retries of a request that is safe to retry.",
               "integer", 3, minimum=0, maximum=100),
    ExtraField("backoff_base", "Backoff base (s)", "First retry delay; doubles each retry.",
               "number", 0.5, minimum=0, maximum=600),
    ExtraField("backoff_max", "Backoff max (s)",
               "Longest delay between two retries (not less than the backoff base).",
               "number", 30.0, minimum=0, maximum=3600),
    ExtraField("retry_after_max", "Retry-After cap (s)", "Longest Retry-After wait honoured.",
               "number", 60.0, minimum=0, maximum=3600),
    ExtraField("max_requests_per_second", "Max requests per second",
               "Client-side rate limit shared by all threads of one hook (empty: none).",
               "number", None, minimum=0, exclusive=True, maximum=10000),
    ExtraField("pool_maxsize", "Connection pool size", "Keep-alive connections kept open.",
               "integer", 16, minimum=1, maximum=1024),
    ExtraField("server_profile", "Server profile (path)",
               "A profile written by altcraft-probe --profile-out for this account: the hook "
               "also recognises this server's wording of refusals (empty: none).",
               "string", None),
)  # fmt: skip
# ASCII digits only (\d, int() and float() also take Arabic-Indic and fullwidth digits, and
# float() takes "1_0").
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
_DECIMAL_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")

HIDDEN_FIELDS = ["schema", "login"]
RELABELING = {"host": "API base URL", "password": "API token"}


def default_text(spec: ExtraField) -> str | None:
    """How a field's default reads in the form (None: the field has no default)."""
    if spec.default is None:
        return None
    if isinstance(spec.default, bool):
        return "true" if spec.default else "false"
    if isinstance(spec.default, float):
        return f"{spec.default:g}"
    return str(spec.default)


def help_text(spec: ExtraField) -> str:
    """The field's description with its default: forms show defaults, they never store them."""
    default = default_text(spec)
    if default is None:
        return spec.description
    return f"{spec.description} Default: {default}."


def form_placeholder(spec: ExtraField) -> str | None:
    """What an empty field of Airflow 2's form shows: the values it takes and its default."""
    hint = " or ".join(spec.choices or (("true", "false") if spec.type == "boolean" else ()))
    default = default_text(spec)
    if hint and default:
        return f"{hint} (empty: {default})"
    return default or hint or None


PLACEHOLDERS = {
    "host": "https://example.altcraft.com (the hook adds /api/v1.1/)",
    "password": "Altcraft API token",
    # Airflow 2's form shows these in the empty extra fields (3.2+ shows the description).
    **{spec.name: text for spec in EXTRA_FIELDS if (text := form_placeholder(spec))},
}


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the hook needs from the connection, parsed and checked once."""

    base_url: str
    token: str = field(repr=False)  # never in a repr (test diffs, debug prints)
    timeout: float = 30.0
    connect_timeout: float = 10.0
    verify: bool | str = True
    auth_placement: TokenPlacement = "body"
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    max_requests_per_second: float | None = None
    pool_maxsize: int = 16
    default_points_currency_eid: str | None = None
    http_503_not_applied: bool = False
    server_profile: str | None = None

    @classmethod
    def from_fields(
        cls,
        conn_id: str,
        *,
        host: str | None,
        port: int | None,
        schema: str | None,
        password: str | None,
        extra: Mapping[str, Any],
    ) -> ConnectionSettings:
        # Imported here: Airflow's provider discovery imports this module (through
        # provider_info), and the exceptions may import Airflow, which may be initialising.
        from airflow_provider_altcraft.exceptions import AltcraftConfigError

        def fail(field: str, problem: str) -> AltcraftConfigError:
            return AltcraftConfigError(f"Connection {conn_id!r}: {field} {problem}")

        # A token pasted with a newline would otherwise fail in requests, whose error quotes
        # the header, token included.
        token = (password or "").strip()
        if not token:
            raise fail("password", "is empty; put the Altcraft API token there")
        if any(char.isspace() or not char.isprintable() for char in token):
            raise fail("password", "contains spaces or control characters; paste the token alone")
        base_url = _base_url(host, port, schema)
        if base_url is None:
            raise fail("host", "is empty or not a URL; set it to https://<your-account-domain>")
        values: dict[str, Any] = {}
        for spec in EXTRA_FIELDS:
            raw = next(
                (
                    extra[key]
                    for name in (spec.name, *spec.legacy_names)
                    for key in (name, f"extra__altcraft__{name}")
                    if not _unset(extra.get(key))
                ),
                None,
            )
            if raw is None:
                continue
            try:
                values[spec.name] = _coerce(spec, raw)
            except ValueError as exc:
                raise fail(f"extra {spec.name!r}", str(exc)) from None
        base = values.get("backoff_base", cls.backoff_base)
        if values.get("backoff_max", cls.backoff_max) < base:
            raise fail(
                "extra 'backoff_max'",
                f"is {values.get('backoff_max', cls.backoff_max)!r}, less than backoff_base "
                f"({base!r}); set backoff_max to backoff_base or more",
            )
        ca_bundle = values.pop("ca_bundle", None)
        if ca_bundle and values.get("verify", True):
            if not Path(ca_bundle).exists():
                raise fail("extra 'ca_bundle'", f"is {ca_bundle!r}, which does not exist")
            values["verify"] = ca_bundle
        return cls(base_url=base_url, token=token, **values)


def _unset(raw: Any) -> bool:
    """Whether an extra's value means "the default": absent, null (what Airflow 3's form saves
    for a field left alone) or blank (Airflow 2's form, a hand-written extra)."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _coerce(spec: ExtraField, raw: Any) -> Any:
    if spec.type == "boolean":
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return str(raw).strip().lower() in ("true", "1", "yes")
        raise ValueError(f"is {raw!r}; expected true or false")
    if spec.type == "integer":
        if isinstance(raw, bool) or not _WHOLE_NUMBER.fullmatch(str(raw).strip()):
            raise ValueError(f"is {raw!r}; expected a whole number")
        return _check_minimum(spec, raw, int(str(raw).strip()))
    if spec.type == "number":
        try:
            number = float(raw)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"is {raw!r}; expected a number") from None
        if isinstance(raw, bool) or not math.isfinite(number):
            raise ValueError(f"is {raw!r}; expected a finite number")
        if isinstance(raw, str) and not _DECIMAL_NUMBER.fullmatch(raw.strip()):
            raise ValueError(f"is {raw!r}; expected a number")
        return _check_minimum(spec, raw, number)
    value = str(raw).strip()
    if spec.choices and value not in spec.choices:
        raise ValueError(f"is {raw!r}; expected one of {', '.join(spec.choices)}")
    return value


def _check_minimum(spec: ExtraField, raw: Any, number: float) -> Any:
    """``number`` within the field's bounds (its minimum and its maximum)."""
    if spec.maximum is not None and number > spec.maximum:
        raise ValueError(f"is {raw!r}; must be {spec.maximum:g} or less")
    if spec.minimum is None:
        return number
    if spec.exclusive and number <= spec.minimum:
        raise ValueError(f"is {raw!r}; must be greater than {spec.minimum:g}")
    if number < spec.minimum:
        raise ValueError(f"is {raw!r}; must be {spec.minimum:g} or more")
    return number


def _base_url(host: str | None, port: int | None, schema: str | None) -> str | None:
    """``https://domain[:port]`` from the host field; a trailing ``/api/v1.1`` is dropped."""
    if not host or not host.strip():
        return None
    text = host.strip()
    if "://" not in text:
        scheme = schema if schema in ("http", "https") else "https"
        text = f"{scheme}://{text}"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    for suffix in ("/api/v1.1", "/api"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return f"{parts.scheme}://{netloc}{path}"


def provider_conn_fields() -> dict[str, Any]:
    """``conn-fields`` for the provider-info dict (Airflow 3.2+).

    Every field is optional (its JSON-schema type admits null) and has no schema ``default``:
    Airflow 3.3's form pre-fills a field with its ``default`` and writes every field into the
    saved extra, so a default there would be frozen into each new connection. An untouched field
    is saved as null instead, which the parser reads as "use the default"; the default is told
    in the description. A choice field offers null as its first option, labelled with the
    default, and a boolean whose default is true is such a choice ("true"/"false"), because the
    form's switch shows null as off.
    """
    fields: dict[str, Any] = {}
    for spec in EXTRA_FIELDS:
        schema: dict[str, Any]
        if spec.choices or (spec.type == "boolean" and spec.default is True):
            choices = spec.choices or ("true", "false")
            default = default_text(spec)
            schema = {
                "type": ["string", "null"],
                "enum": [None, *choices],
                "values_display": {"null": f"default ({default})" if default else "none"},
            }
        else:
            schema = {"type": [spec.type, "null"]}
            if spec.minimum is not None:
                bound = "exclusiveMinimum" if spec.exclusive else "minimum"
                schema[bound] = int(spec.minimum) if spec.type == "integer" else spec.minimum
            if spec.maximum is not None:  # the form's number input keeps within min/max
                schema["maximum"] = int(spec.maximum) if spec.type == "integer" else spec.maximum
        fields[spec.name] = {"label": spec.label, "description": help_text(spec), "schema": schema}
    return fields


def connection_form_widgets() -> dict[str, Any]:
    """The form's extra fields as WTForms widgets (Airflow < 3.2 calls the hook for them).

    Text fields without a default, booleans included (a checkbox always stores true or false):
    Airflow 2's form leaves an empty field out of the saved extra, so an untouched field keeps
    meaning "the default", which its placeholder (:data:`PLACEHOLDERS`) shows.
    """
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import StringField

    widgets: dict[str, Any] = {}
    for spec in EXTRA_FIELDS:
        widgets[spec.name] = StringField(
            lazy_gettext(spec.label), widget=BS3TextFieldWidget(), description=help_text(spec)
        )
    return widgets
