"""Kept for old imports: assembling an export's files moved to
:mod:`airflow_provider_altcraft.export.files`."""

from airflow_provider_altcraft.export.files import *  # noqa: F403
from airflow_provider_altcraft.export.files import __all__  # noqa: F401
