"""Optional test dependencies: skipped on a developer's machine that lacks them, required on CI.

CI (``CI=true``) installs every extra, so a missing module there is a broken setup, not a
reason to skip: the test then fails at import instead of silently not running.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def import_or_skip(module: str, reason: str) -> ModuleType:
    """``pytest.importorskip(module)``, except on CI, where the import must succeed."""
    if on_ci():
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=reason)
