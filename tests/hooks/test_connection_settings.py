"""How the hook reads its Airflow connection: host forms, extras, and refusals before any HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from airflow_provider_altcraft.connection_fields import ConnectionSettings
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
