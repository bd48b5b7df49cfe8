"""The package as Airflow sees it: provider registration, connection form, cheap imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import airflow_provider_altcraft
from airflow_provider_altcraft.connection_fields import (
    EXTRA_FIELDS,
    connection_form_widgets,
    default_text,
    provider_conn_fields,
)


def test_airflow_discovers_the_provider_and_its_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-altcraft" in manager.providers
    hook = manager.hooks["altcraft"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_altcraft.hooks.altcraft.AltcraftHook"
    assert hook.connection_id_attribute_name == "altcraft_conn_id"
    assert hook.hook_name == "Altcraft"
    widgets = {name for name in manager.connection_form_widgets if "altcraft" in name}
    assert widgets == {f"extra__altcraft__{spec.name}" for spec in EXTRA_FIELDS}
    for name in widgets:
        field = manager.connection_form_widgets[name].field
        if isinstance(field, dict):  # Airflow 3.2+: read from conn-fields, as the form gets it
            assert field["value"] is None, name
            assert "null" in field["schema"]["type"], name
        else:  # Airflow 2: the hook's WTForms field
            assert field.kwargs.get("default") is None, name
    behaviour = manager.field_behaviours["altcraft"]
    assert behaviour["hidden_fields"] == ["schema", "login"]
    assert behaviour["relabeling"] == {"host": "API base URL", "password": "API token"}


def _airflows_key_maskers() -> list[Callable[[str], bool]]:
    """Airflow's own "is this extra's value a secret?" rules, every copy this version has."""
    maskers: list[Callable[[str], bool]] = []
    try:  # Airflow 3: the api-server's copy (connection responses) and the task SDK's
        from airflow._shared.secrets_masker import should_hide_value_for_key as core
        from airflow.sdk._shared.secrets_masker import should_hide_value_for_key as sdk

        maskers += [core, sdk]
    except ImportError:  # Airflow 2
        from airflow.utils.log.secrets_masker import should_hide_value_for_key as legacy

        maskers.append(legacy)
    return maskers


def test_no_extra_name_is_one_airflow_masks() -> None:
    # Airflow shows "***" for any extra whose name holds "token", "secret", "proxy", ...
    for should_hide in _airflows_key_maskers():
        assert should_hide("token_in")  # why the old name had to go
        assert should_hide("extra__altcraft__token_in")
        for spec in EXTRA_FIELDS:
            assert not should_hide(spec.name), spec.name
            assert not should_hide(f"extra__altcraft__{spec.name}"), spec.name


def test_conn_fields_make_every_extra_optional_and_store_no_default() -> None:
    # Airflow 3.2+'s React form marks a field required unless its type admits null, and
    # pre-fills (then saves) the schema's default: neither may happen here.
    fields = provider_conn_fields()

    assert list(fields) == [spec.name for spec in EXTRA_FIELDS]
    for spec in EXTRA_FIELDS:
        schema = fields[spec.name]["schema"]
        assert "null" in schema["type"], spec.name
        assert "default" not in schema, spec.name
        assert fields[spec.name]["label"] == spec.label
        default = default_text(spec)
        if default is not None:
            assert fields[spec.name]["description"].endswith(f" Default: {default}."), spec.name
        if "enum" in schema:  # a choice: null first, labelled as the default
            assert schema["enum"][0] is None
            assert schema["values_display"]["null"] == f"default ({default})"
    assert fields["auth_placement"]["schema"]["enum"] == [None, "body", "header"]
    # A switch shows null as off: a boolean whose default is on is a choice instead.
    assert fields["verify"]["schema"]["enum"] == [None, "true", "false"]
    assert fields["http_503_not_applied"]["schema"]["type"] == ["boolean", "null"]
    assert fields["pool_maxsize"]["schema"] == {
        "type": ["integer", "null"],
        "minimum": 1,
        "maximum": 1024,
    }
    assert fields["timeout"]["schema"] == {
        "type": ["number", "null"],
        "exclusiveMinimum": 0,
        "maximum": 3600,
    }
    for spec in EXTRA_FIELDS:
        assert fields[spec.name]["schema"].get("maximum") == spec.maximum, spec.name


def test_airflow_2_form_widgets_are_empty_text_fields_with_the_default_as_placeholder() -> None:
    pytest.importorskip("flask_appbuilder", reason="Airflow 3 has no Flask-AppBuilder form")
    from airflow.providers_manager import ProvidersManager
    from wtforms import Form, StringField

    widgets = connection_form_widgets()

    assert list(widgets) == [spec.name for spec in EXTRA_FIELDS]
    form = type("AltcraftExtras", (Form,), widgets)()
    for spec in EXTRA_FIELDS:
        # A checkbox always saves true or false; an empty text field is left out of the extra.
        assert widgets[spec.name].field_class is StringField, spec.name
        assert widgets[spec.name].kwargs.get("default") is None, spec.name
        assert 'value=""' in str(form[spec.name]()), spec.name
    # The form's script puts these in the empty fields (the widget's own placeholder is its
    # label); Airflow adds the extra__altcraft__ prefix.
    placeholders = ProvidersManager().field_behaviours["altcraft"]["placeholders"]
    for spec in EXTRA_FIELDS:
        default = default_text(spec)
        if default is not None:
            assert default in placeholders[f"extra__altcraft__{spec.name}"], spec.name
    assert placeholders["extra__altcraft__auth_placement"] == "body or header (empty: body)"
    assert placeholders["extra__altcraft__verify"] == "true or false (empty: true)"
    assert placeholders["extra__altcraft__timeout"] == "30"


def test_provider_info_is_json_and_versioned() -> None:
    info = airflow_provider_altcraft.get_provider_info()
    assert json.loads(json.dumps(info)) == info
    assert info["versions"] == [airflow_provider_altcraft.__version__]
    (connection_type,) = info["connection-types"]  # type: ignore[misc]
    assert set(connection_type["conn-fields"]) == {spec.name for spec in EXTRA_FIELDS}


def test_package_is_typed() -> None:
    assert (Path(airflow_provider_altcraft.__file__).parent / "py.typed").is_file()


def _modules_after_import(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_importing_the_operators_loads_no_http_client_of_its_own() -> None:
    # DAG files import the operators on every parse; requests/urllib3 load on first call
    # (Airflow 2 imports them itself, Airflow 3 does not).
    airflow_alone = _modules_after_import("import airflow.models")
    modules = _modules_after_import("import airflow_provider_altcraft.operators.loyalty")
    assert "airflow_provider_altcraft.operators.loyalty" in modules
    assert not ({"requests", "urllib3"} & modules) - airflow_alone


def test_the_package_root_and_the_sandbox_do_not_import_airflow() -> None:
    modules = _modules_after_import("import airflow_provider_altcraft.sandbox")
    assert "airflow_provider_altcraft.sandbox" in modules
    assert "airflow" not in modules


def test_the_provider_info_does_not_import_airflow() -> None:
    # Airflow's provider discovery calls it while Airflow itself may still be initialising.
    modules = _modules_after_import(
        "from airflow_provider_altcraft import get_provider_info; get_provider_info()"
    )
    assert "airflow_provider_altcraft.connection_fields" in modules
    assert "airflow" not in modules
