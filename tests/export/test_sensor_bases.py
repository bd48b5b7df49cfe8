"""The sensor inherits BaseOperator once: through BaseSensorOperator, not also through the
operators' base (the shared behaviour is a mixin with no base of its own)."""

from __future__ import annotations

from airflow_provider_altcraft.compat import BaseOperator, BaseSensorOperator
from airflow_provider_altcraft.operators.base import AltcraftBaseOperator, AltcraftTaskMixin
from airflow_provider_altcraft.sensors.altcraft import AltcraftExportTaskSensor


def test_the_sensor_inherits_base_operator_once() -> None:
    mro = AltcraftExportTaskSensor.__mro__
    direct = [base for base in mro if BaseOperator in base.__bases__]

    assert AltcraftBaseOperator not in mro
    assert AltcraftTaskMixin in mro and BaseSensorOperator in mro
    assert direct == [BaseSensorOperator]
    assert AltcraftTaskMixin.__bases__ == (object,)
