"""Kept for old imports: the export CSV reader moved to
:mod:`airflow_provider_altcraft.export.csv_reader`."""

from airflow_provider_altcraft.export.csv_reader import *  # noqa: F403
from airflow_provider_altcraft.export.csv_reader import __all__  # noqa: F401
