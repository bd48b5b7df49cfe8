"""Kept for old imports: the batch progress record moved to
:mod:`airflow_provider_altcraft.batch.progress`."""

from airflow_provider_altcraft.batch.progress import *  # noqa: F403
from airflow_provider_altcraft.batch.progress import __all__  # noqa: F401
