"""How the hook reads its Airflow connection: host forms, extras, and refusals before any HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from airflow_provider_altcraft.connection_fields import EXTRA_FIELDS, ConnectionSettings
from airflow_provider_altcraft.exceptions import AltcraftConfigError
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import TOKEN
from tests.hooks.conftest import ANN, PROGRAM, MakeHook


@pytest.fixture
def hook_for(monkeypatch: pytest.MonkeyPatch) -> MakeHook:
    """``hook_for(**fields)``: a hook on connection ``altcraft_settings`` with exactly these
    fields (``host``, ``port``, ``schema``, ``password``, ``extra``), nothing added."""

    def make(**fields: object) -> AltcraftHook:
        value = json.dumps({"conn_type": "altcraft", **fields})
        monkeypatch.setenv("AIRFLOW_CONN_ALTCRAFT_SETTINGS", value)
        return AltcraftHook("altcraft_settings")

    return make


def sandbox_host_forms(url: str) -> list[dict[str, object]]:
    port = urlsplit(url).port
    return [
        {"host": url},
        {"host": f"{url}/"},
        {"host": f"{url}/api/v1.1"},
        {"host": f"{url}/api/v1.1/"},
        {"host": f"{url}/api"},
        {"host": "127.0.0.1", "port": port, "schema": "http"},
        {"host": f"127.0.0.1:{port}", "schema": "http"},
        {"host": "http://127.0.0.1", "port": port},
    ]


def test_every_host_form_reaches_the_sandbox(hook_for: MakeHook, sandbox: SandboxHandle) -> None:
    for fields in sandbox_host_forms(sandbox.url):
        hook = hook_for(password=TOKEN, **fields)

        assert hook.settings.base_url == sandbox.url, fields
        balance = hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)
        assert balance.total_balance == Decimal("500.00"), fields
        hook.close()
    assert len(sandbox.requests()) == len(sandbox_host_forms(sandbox.url))


@pytest.mark.parametrize(
    ("fields", "base_url"),
    [
        ({"host": "acme.altcraft.com"}, "https://acme.altcraft.com"),
        ({"host": "acme.altcraft.com", "port": 8443}, "https://acme.altcraft.com:8443"),
        ({"host": "acme.altcraft.com/api/v1.1/"}, "https://acme.altcraft.com"),
        ({"host": "https://acme.altcraft.com/tenant/api/v1.1"}, "https://acme.altcraft.com/tenant"),
        ({"host": "  https://acme.altcraft.com  "}, "https://acme.altcraft.com"),
    ],
)
def test_host_without_scheme_defaults_to_https(
    hook_for: MakeHook, fields: dict[str, object], base_url: str
) -> None:
    assert hook_for(password=TOKEN, **fields).settings.base_url == base_url


def test_defaults_when_no_extra_is_set(hook_for: MakeHook) -> None:
    settings = hook_for(host="https://acme.altcraft.com", password=TOKEN).settings

    assert settings == ConnectionSettings(base_url="https://acme.altcraft.com", token=TOKEN)
    assert (settings.timeout, settings.max_retries, settings.auth_placement) == (30.0, 3, "body")


def test_extras_as_the_connection_form_writes_them(hook_for: MakeHook, tmp_path: Path) -> None:
    # Airflow 2 forms store strings, some under the "extra__altcraft__" prefix.
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked here")
    extra = {
        "timeout": "2.5",
        "connect_timeout": 1,
        "extra__altcraft__max_retries": "0",
        "auth_placement": "body",
        "max_requests_per_second": "50",
        "backoff_base": "0",
        "pool_maxsize": "4",
        "ca_bundle": str(bundle),
    }

    settings = hook_for(host="https://acme.altcraft.com", password=TOKEN, extra=extra).settings

    assert (settings.timeout, settings.connect_timeout) == (2.5, 1.0)
    assert (settings.max_retries, settings.auth_placement) == (0, "body")
    assert (settings.max_requests_per_second, settings.backoff_base) == (50.0, 0.0)
    assert (settings.pool_maxsize, settings.verify) == (4, str(bundle))


def settings_with(**extra: object) -> ConnectionSettings:
    """The settings of a connection with these extras (the parser alone, no Airflow)."""
    return ConnectionSettings.from_fields(
        "altcraft_settings",
        host="https://acme.altcraft.com",
        port=None,
        schema=None,
        password=TOKEN,
        extra=extra,
    )


DEFAULTS = ConnectionSettings(base_url="https://acme.altcraft.com", token=TOKEN)


def test_new_fields_default_to_body_no_currency_and_503_not_trusted() -> None:
    assert (DEFAULTS.auth_placement, DEFAULTS.default_points_currency_eid) == ("body", None)
    assert DEFAULTS.http_503_not_applied is False
    assert settings_with() == DEFAULTS


@pytest.mark.parametrize(
    "blank",
    [
        # Airflow 3.3's form saves every field, null when left alone.
        {spec.name: None for spec in EXTRA_FIELDS},
        # Airflow 2's form and hand-written extras: empty or blank strings, prefixed or not.
        {spec.name: "" for spec in EXTRA_FIELDS},
        {f"extra__altcraft__{spec.name}": "  " for spec in EXTRA_FIELDS},
        {"token_in": None, "extra__altcraft__token_in": ""},
    ],
    ids=["null", "empty", "blank-prefixed", "legacy"],
)
def test_null_or_blank_extras_mean_the_defaults(blank: dict[str, object]) -> None:
    assert settings_with(**blank) == DEFAULTS


def test_a_null_new_name_falls_back_to_the_legacy_one() -> None:
    assert settings_with(auth_placement=None, token_in="header").auth_placement == "header"


@pytest.mark.parametrize(
    ("extra", "placement"),
    [
        ({"token_in": "header"}, "header"),
        ({"extra__altcraft__token_in": "header"}, "header"),
        ({"token_in": "body"}, "body"),
        ({"auth_placement": "header"}, "header"),
        ({"extra__altcraft__auth_placement": "header"}, "header"),
        # Both set (a connection edited after the rename): the new name wins.
        ({"auth_placement": "body", "token_in": "header"}, "body"),
        ({"auth_placement": "header", "extra__altcraft__token_in": "body"}, "header"),
    ],
)
def test_auth_placement_and_its_legacy_name_token_in(
    extra: dict[str, object], placement: str
) -> None:
    assert settings_with(**extra).auth_placement == placement


def test_a_bad_legacy_value_is_reported_under_the_new_name() -> None:
    with pytest.raises(AltcraftConfigError) as caught:
        settings_with(token_in="query")

    assert str(caught.value) == (
        "Connection 'altcraft_settings': extra 'auth_placement' is 'query'; "
        "expected one of body, header"
    )


def test_default_points_currency_eid_is_read_trimmed() -> None:
    assert settings_with(default_points_currency_eid=" stars ").default_points_currency_eid == (
        "stars"
    )
    prefixed = settings_with(extra__altcraft__default_points_currency_eid="miles")
    assert prefixed.default_points_currency_eid == "miles"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (True, True),  # Airflow 3's switch: a JSON boolean
        (False, False),
        ("true", True),  # Airflow 2's text field, a hand-written extra, the verify choice
        ("False", False),
        (" TRUE ", True),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
        ("yes", True),
        ("no", False),
    ],
)
def test_booleans_accept_what_the_forms_send(raw: object, value: bool) -> None:
    assert settings_with(http_503_not_applied=raw).http_503_not_applied is value
    assert settings_with(verify=raw).verify is value


@pytest.mark.parametrize("raw", ["sometimes", "on", "off", "2", 2, 1.0, "t", [], {}])
def test_booleans_are_strict(raw: object) -> None:
    with pytest.raises(AltcraftConfigError) as caught:
        settings_with(http_503_not_applied=raw)

    assert f"extra 'http_503_not_applied' is {raw!r}; expected true or false" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "raw", "value"),
    [
        ("timeout", 7.5, 7.5),  # Airflow 3's number input: a JSON number
        ("timeout", "7.5", 7.5),  # Airflow 2's text field: a string
        ("max_retries", 0, 0),
        ("max_retries", "5", 5),
        ("pool_maxsize", 4, 4),
        ("max_requests_per_second", 2.5, 2.5),
    ],
)
def test_numbers_accept_what_the_forms_send(field: str, raw: object, value: object) -> None:
    parsed = getattr(settings_with(**{field: raw}), field)

    assert parsed == value and type(parsed) is type(value)


def test_verify_false_wins_over_a_ca_bundle(hook_for: MakeHook) -> None:
    extra = {"verify": "false", "ca_bundle": "/no/such/bundle.pem"}

    settings = hook_for(host="https://acme.altcraft.com", password=TOKEN, extra=extra).settings

    assert settings.verify is False


BAD_EXTRAS = [
    ("timeout", "abc", "expected a number"),
    ("timeout", 0, "must be greater than 0"),
    ("timeout", "-1", "must be greater than 0"),
    ("timeout", "nan", "expected a finite number"),
    ("connect_timeout", "0", "must be greater than 0"),
    ("verify", "maybe", "expected true or false"),
    ("auth_placement", "query", "expected one of body, header"),
    ("auth_placement", "Header", "expected one of body, header"),
    ("http_503_not_applied", "sometimes", "expected true or false"),
    ("http_503_not_applied", 2, "expected true or false"),
    ("max_retries", "three", "expected a whole number"),
    ("max_retries", "1.5", "expected a whole number"),
    ("max_retries", -1, "must be 0 or more"),
    ("backoff_base", "-0.5", "must be 0 or more"),
    ("backoff_max", -1, "must be 0 or more"),
    ("retry_after_max", "inf", "expected a finite number"),
    ("max_requests_per_second", 0, "must be greater than 0"),
    ("pool_maxsize", 0, "must be 1 or more"),
    ("ca_bundle", "/no/such/bundle.pem", "does not exist"),
]


@pytest.mark.parametrize(("field", "value", "problem"), BAD_EXTRAS)
def test_bad_extra_is_a_config_error_naming_the_field_before_any_request(
    make_hook: MakeHook, sandbox: SandboxHandle, field: str, value: object, problem: str
) -> None:
    hook = make_hook("altcraft_bad_extra", **{field: value})

    with pytest.raises(AltcraftConfigError) as caught:
        hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)

    message = str(caught.value)
    assert message.startswith(f"Connection 'altcraft_bad_extra': extra '{field}' is ")
    assert problem in message
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    "host", ["", "   ", "ftp://acme.altcraft.com", "http://", "http://acme:port", "http://[::1"]
)
def test_bad_host_is_a_config_error(hook_for: MakeHook, host: str) -> None:
    hook = hook_for(host=host, password=TOKEN)

    with pytest.raises(
        AltcraftConfigError, match=r"'altcraft_settings': host is empty or not a URL"
    ):
        hook.settings  # noqa: B018


@pytest.mark.parametrize("password", [None, "", "   "])
def test_missing_password_is_a_config_error(
    hook_for: MakeHook, sandbox: SandboxHandle, password: str | None
) -> None:
    fields = (
        {"host": sandbox.url} if password is None else {"host": sandbox.url, "password": password}
    )
    hook = hook_for(**fields)

    with pytest.raises(AltcraftConfigError, match="password is empty; put the Altcraft API token"):
        hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)
    ok, message = hook.test_connection()

    assert not ok and "password is empty" in message
    assert sandbox.requests() == []


def test_token_pasted_with_a_newline_still_works(
    hook_for: MakeHook, sandbox: SandboxHandle
) -> None:
    hook = hook_for(host=sandbox.url, password=f"  {TOKEN}\n")

    assert hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN).total_balance == 500
    assert hook.settings.token == TOKEN


def test_token_with_inner_whitespace_is_refused_without_quoting_it(
    hook_for: MakeHook, sandbox: SandboxHandle
) -> None:
    hook = hook_for(host=sandbox.url, password="secret-part-one\nsecret-part-two")

    with pytest.raises(AltcraftConfigError) as caught:
        hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)

    assert "password contains spaces or control characters" in str(caught.value)
    assert "secret-part" not in str(caught.value)
    assert sandbox.requests() == []


ABSURD_EXTRAS = [
    ("timeout", 1e20, "must be 3600 or less"),
    ("timeout", "1e20", "must be 3600 or less"),
    ("connect_timeout", 10**6, "must be 600 or less"),
    ("max_retries", 10**9, "must be 100 or less"),
    ("max_retries", "1000000000", "must be 100 or less"),
    ("pool_maxsize", 10**6, "must be 1024 or less"),
    ("backoff_base", 10**5, "must be 600 or less"),
    ("backoff_max", 1e9, "must be 3600 or less"),
    ("retry_after_max", 86400 * 365, "must be 3600 or less"),
    ("max_requests_per_second", 1e12, "must be 10000 or less"),
    ("max_retries", "\u0663", "expected a whole number"),  # an Arabic-Indic three
    ("timeout", "\uff15", "expected a number"),  # a fullwidth five
    ("timeout", "1_0", "expected a number"),
    ("pool_maxsize", 1.0, "expected a whole number"),
]


@pytest.mark.parametrize(("field", "value", "problem"), ABSURD_EXTRAS)
def test_absurd_extras_are_refused_clearly(field: str, value: object, problem: str) -> None:
    with pytest.raises(AltcraftConfigError) as caught:
        settings_with(**{field: value})

    message = str(caught.value)
    assert message.startswith(f"Connection 'altcraft_settings': extra '{field}' is ")
    assert problem in message
    assert TOKEN not in message


def test_backoff_max_below_backoff_base_is_refused() -> None:
    with pytest.raises(AltcraftConfigError) as caught:
        settings_with(backoff_base=10, backoff_max=2)

    assert str(caught.value) == (
        "Connection 'altcraft_settings': extra 'backoff_max' is 2.0, less than backoff_base "
        "(10.0); set backoff_max to backoff_base or more"
    )
    assert settings_with(backoff_base=2, backoff_max=2).backoff_max == 2.0


def test_every_number_has_a_maximum() -> None:
    for spec in EXTRA_FIELDS:
        if spec.type in ("number", "integer"):
            assert spec.maximum is not None, spec.name
            assert spec.minimum is not None and spec.minimum < spec.maximum, spec.name


def test_the_largest_sane_values_are_accepted() -> None:
    settings = settings_with(timeout=3600, max_retries=100, pool_maxsize=1024, backoff_max=3600)
    assert (settings.timeout, settings.max_retries, settings.pool_maxsize) == (3600.0, 100, 1024)
