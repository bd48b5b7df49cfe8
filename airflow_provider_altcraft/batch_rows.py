"""Kept for old imports: reading and validating batch rows moved to
:mod:`airflow_provider_altcraft.batch.rows`."""

from airflow_provider_altcraft.batch.rows import *  # noqa: F403
