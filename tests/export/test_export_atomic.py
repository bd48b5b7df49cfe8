"""The export file appears complete or not at all, and ``deferrable`` follows Airflow's config."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.compat import AirflowException
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.operators.export import download_export
from airflow_provider_altcraft.periods import Period
from airflow_provider_altcraft.triggers.altcraft import task_event
from tests.export.ledger import add_transaction

SEPT_1 = Period.from_arguments("2024-09-01", "2024-09-01")


def _completed_export_event(hook: AltcraftHook) -> dict[str, Any]:
    """A real export of 2024-09-01 from the sandbox, once it has completed."""
    task_id = hook.start_transactions_export(
        loyalty_program_id=1,
        points_currency_eid="stars",
        date_from=date(2024, 9, 1),
        date_to=date(2024, 9, 1),
    )
    deadline = time.time() + 10
    while not (status := hook.get_task_status(task_id)).is_completed:
        assert time.time() < deadline, "the sandbox export did not complete"
        time.sleep(0.05)
    return task_event(task_id, status)


def test_row_count_mismatch_leaves_nothing_at_output_path(sandbox: Any, tmp_path: Path) -> None:
    # The sandbox always announces the file's true total; a download shorter than announced
    # is produced by announcing one row more than the real, downloaded file holds.
    sandbox.configure(export_delay_sec=0)
    add_transaction("accrue", "5.00", "2024-09-01T10:00:00Z")
    hook = AltcraftHook()
    event = _completed_export_event(hook)
    assert event["total"] == 1
    output = tmp_path / "out" / "transactions.csv"

    with pytest.raises(AirflowException) as raised:
        download_export(hook, {**event, "total": 2}, str(output), SEPT_1, timeout=10)

    assert "the downloaded files hold 1 rows but Altcraft announced 2" in str(raised.value)
    assert not output.exists()
    assert list(output.parent.iterdir()) == []  # no partial or unchecked file left beside it
    # The same export with the right total lands at output_path.
    assert download_export(hook, event, str(output), SEPT_1, timeout=10).rows == 1
    assert list(output.parent.iterdir()) == [output]


def test_deferrable_defaults_to_airflows_default_deferrable() -> None:
    # The default is read when the module is imported: a fresh interpreter with the option.
    code = (
        "from airflow_provider_altcraft.operators.export import "
        "AltcraftExportTransactionsOperator as E\n"
        "from airflow_provider_altcraft.sensors.altcraft import AltcraftExportTaskSensor as S\n"
        "e = E(task_id='e', loyalty_program_id=1, points_currency_eid='stars', output_path='x')\n"
        "s = S(task_id='s', export_task_id='t')\n"
        "print(e.deferrable, s.deferrable)\n"
    )
    for setting, expected in (("True", "True True"), ("False", "False False")):
        env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": setting}
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == expected
