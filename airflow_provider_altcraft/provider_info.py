"""The provider-info dict Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_altcraft import __version__
from airflow_provider_altcraft.connection_fields import (
    HIDDEN_FIELDS,
    PLACEHOLDERS,
    RELABELING,
    provider_conn_fields,
)

PACKAGE = "airflow_provider_altcraft"


def provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-altcraft",
        "name": "Altcraft",
        "description": "Loyalty-point operations on the Altcraft Platform (API v1.1).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Altcraft",
                "external-doc-url": "https://guides.altcraft.com/en/developer-guide/loyalty/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "Altcraft", "python-modules": [f"{PACKAGE}.hooks.altcraft"]}
        ],
        "operators": [
            {
                "integration-name": "Altcraft",
                "python-modules": [
                    f"{PACKAGE}.operators.loyalty",
                    f"{PACKAGE}.operators.batch",
                    f"{PACKAGE}.operators.export",
                    f"{PACKAGE}.operators.reconcile",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "Altcraft", "python-modules": [f"{PACKAGE}.sensors.altcraft"]}
        ],
        "triggers": [
            {"integration-name": "Altcraft", "python-modules": [f"{PACKAGE}.triggers.altcraft"]}
        ],
        "connection-types": [
            {
                "connection-type": "altcraft",
                "hook-class-name": f"{PACKAGE}.hooks.altcraft.AltcraftHook",
                "hook-name": "Altcraft",
                # Airflow 3.2+ builds the connection form from these without importing the
                # hook; older versions call the hook's classmethods instead.
                "conn-fields": provider_conn_fields(),
                "ui-field-behaviour": {
                    "hidden-fields": HIDDEN_FIELDS,
                    "relabeling": RELABELING,
                    "placeholders": PLACEHOLDERS,
                },
            }
        ],
        # Shown by `airflow config list` and read through Airflow's configuration like any
        # other option (airflow.cfg or AIRFLOW__ALTCRAFT__RESULTS_BASE).
        "config": {
            "altcraft": {
                "description": "Settings of the Altcraft provider shared by every worker.",
                "options": {
                    "results_base": {
                        "description": (
                            "Where batch results files go when a task names no results_path: "
                            "a local directory or an object-storage URI (s3://, gs://, ...) "
                            "that every worker of the deployment can reach. Unset: the "
                            "worker's temp directory."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://aws_default@my-bucket/altcraft",
                        "default": None,
                    }
                },
            }
        },
    }
