"""Apache Airflow provider for the Altcraft Platform loyalty API (v1.1).

Importing this package is cheap on purpose: it must not import Airflow, so that the
sandbox (``airflow_provider_altcraft.sandbox``) starts fast and Airflow's provider
discovery can read :func:`get_provider_info` without side effects.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]


def get_provider_info() -> dict[str, object]:
    from airflow_provider_altcraft.provider_info import provider_info

    return provider_info()
