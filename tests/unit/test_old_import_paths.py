"""The modules kept for old imports still give every public name of the module that took
their place (the tests themselves import from the new homes)."""

from __future__ import annotations

import importlib

import pytest

MOVED = {
    "airflow_provider_altcraft.batch_rows": "airflow_provider_altcraft.batch.rows",
    "airflow_provider_altcraft.batch_progress": "airflow_provider_altcraft.batch.progress",
    "airflow_provider_altcraft.export_csv": "airflow_provider_altcraft.export.csv_reader",
    "airflow_provider_altcraft.export_files": "airflow_provider_altcraft.export.files",
}


@pytest.mark.parametrize(("old", "new"), MOVED.items())
def test_an_old_module_gives_the_new_ones_names(old: str, new: str) -> None:
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    # What ``from new import *`` gives: its __all__, else every name without an underscore.
    names = getattr(new_module, "__all__", [n for n in vars(new_module) if not n.startswith("_")])
    assert names
    for name in names:
        assert getattr(old_module, name) is getattr(new_module, name), name
