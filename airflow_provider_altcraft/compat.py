"""Every import that differs between Airflow 2.11 and Airflow 3.x, in one place.

The rest of the package imports Airflow names from here and never branches on the version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow import __version__ as AIRFLOW_VERSION

AIRFLOW_V_3 = int(AIRFLOW_VERSION.split(".", 1)[0]) >= 3

# Type-checked against Airflow 3 (TYPE_CHECKING); the 2.11 branch is exercised by the tests.
if TYPE_CHECKING or AIRFLOW_V_3:
    from airflow.sdk import (
        Asset,
        BaseHook,
        BaseOperator,
        BaseSensorOperator,
        Context,
        ObjectStoragePath,
        PokeReturnValue,
        TriggerRule,
        XComArg,
        conf,
    )
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
    from airflow.sdk.log import mask_secret
    from airflow.sdk.observability.stats import Stats
else:  # Airflow 2.11
    from airflow.configuration import conf
    from airflow.datasets import Dataset as Asset  # Airflow 2's name for an Asset
    from airflow.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
    from airflow.hooks.base import BaseHook
    from airflow.io.path import ObjectStoragePath
    from airflow.models.baseoperator import BaseOperator
    from airflow.models.xcom_arg import XComArg
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue
    from airflow.stats import Stats
    from airflow.utils.context import Context
    from airflow.utils.log.secrets_masker import mask_secret
    from airflow.utils.trigger_rule import TriggerRule

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Asset",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "Context",
    "ObjectStoragePath",
    "PokeReturnValue",
    "Stats",
    "TriggerRule",
    "XComArg",
    "conf",
    "mask_secret",
]
