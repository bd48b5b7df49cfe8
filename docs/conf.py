"""Sphinx configuration: MyST Markdown pages, autodoc for the API reference.

Built offline (no intersphinx, no theme download) with warnings as errors by
``scripts/docs.sh``; every DAG snippet is a ``literalinclude`` of an example DAG a test runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# autodoc imports the package from this checkout, not from whatever is installed.
sys.path.insert(0, str(REPO))
# Importing the operators imports Airflow: keep it off any real Airflow home and metadata DB.
os.environ.setdefault("AIRFLOW_HOME", "/tmp/altcraft-docs-airflow-home")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_altcraft import __version__  # noqa: E402

project = "airflow-provider-altcraft"
author = "airflow-provider-altcraft contributors"
copyright = "the airflow-provider-altcraft contributors; Apache-2.0"
release = __version__
version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# GitHub-style anchors on headings down to level 4, so "page.md#section" links work both on
# GitHub and in the built pages (and a broken one is a warning, i.e. an error with -W).
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"show-inheritance": True}

html_theme = "alabaster"
html_title = f"{project} {release}"
