"""The package as Airflow sees it: provider registration, connection form, cheap imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import airflow_provider_altcraft
from airflow_provider_altcraft.connection_fields import EXTRA_FIELDS


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
    behaviour = manager.field_behaviours["altcraft"]
    assert behaviour["hidden_fields"] == ["schema", "login"]
    assert behaviour["relabeling"] == {"host": "API base URL", "password": "API token"}


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
