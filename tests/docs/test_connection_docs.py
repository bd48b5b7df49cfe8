"""docs/connection.md's fields table is what scripts/gen_connection_docs.py renders from the one
declaration of the connection's fields, the one the form and the hook's parser use."""

from __future__ import annotations

import dataclasses
import importlib.util
from types import ModuleType

import pytest

from airflow_provider_altcraft import connection_fields
from tests.docs.markdown import REPO

PAGE = REPO / "docs" / "connection.md"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_connection_docs", REPO / "scripts" / "gen_connection_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_is_what_the_fields_table_generates(generator: ModuleType) -> None:
    current = PAGE.read_text(encoding="utf-8")
    assert current == generator.render(current), "run: python scripts/gen_connection_docs.py"
    assert generator.main(["--check"]) == 0


def test_every_field_is_documented_with_its_default(generator: ModuleType) -> None:
    table = generator.render_table()
    for spec in connection_fields.EXTRA_FIELDS:
        default = connection_fields.default_text(spec)
        assert f"| `{spec.name}` | {spec.label} | {f'`{default}`' if default else '—'} |" in table


def test_a_changed_field_makes_the_check_fail(
    generator: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The check is not vacuous: a new default in the declaration is a stale page."""
    changed = tuple(
        dataclasses.replace(spec, default=45.0) if spec.name == "timeout" else spec
        for spec in connection_fields.EXTRA_FIELDS
    )
    monkeypatch.setattr(generator, "EXTRA_FIELDS", changed)
    assert generator.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out
