"""The export operator writing to object storage, in real DAG runs against the sandbox.

``memory://`` is fsspec's in-memory filesystem attached to Airflow's object-storage layer by
the DAG's first task (tests/dags/reconcile_storage.py): the same ``ObjectStoragePath`` code as
``s3://`` without a cloud account. ``dag.test()`` runs the tasks in this process, where the
memory store lives, so the test reads back what the task uploaded.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.compat import ObjectStoragePath
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.operators.export import AltcraftExportTransactionsOperator
from tests.export.ledger import add_transaction, ledger_rows_on
from tests.export.storage_support import EXPORT, bucket, get, listing, storage_run

__all__ = ["bucket"]  # the fixture, imported for pytest


@pytest.fixture
def september_first(sandbox: Any) -> set[str]:
    """Two transactions on 2024-09-01, one on each neighbouring day."""
    add_transaction("accrue", "10.00", "2024-08-31T23:59:59Z", transaction_eid="aug-31")
    add_transaction("accrue", "100.50", "2024-09-01T00:00:00Z", transaction_eid="sep-1-a")
    add_transaction("redeem", "20.25", "2024-09-01T12:00:00Z", transaction_eid="sep-1-b")
    add_transaction("accrue", "1.00", "2024-09-02T00:00:00Z", transaction_eid="sep-2")
    return {"sep-1-a", "sep-1-b"}


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "poll"])
def test_export_to_a_memory_uri_uploads_the_whole_file(
    airflow_db: Path, sandbox: Any, september_first: set[str], bucket: str, deferrable: bool
) -> None:
    target = f"{bucket}/exports/2024-09-01/transactions.csv"

    run = storage_run(
        f"export_to_memory_{deferrable}",
        export={**EXPORT, "output_path": target, "deferrable": deferrable},
    )

    assert run.state == "success"
    summary = run.xcom("export")
    assert (summary["path"], summary["rows"]) == (target, 2)
    data = get(target)
    assert summary["bytes"] == len(data)
    rows = rows_of(data)
    assert {r["transaction_eid"] for r in rows} == september_first
    expected = {tx["transaction_eid"]: Decimal(tx["amount"])
                for tx in ledger_rows_on(sandbox, "2024-09-01")}  # fmt: skip
    assert {r["transaction_eid"]: Decimal(r["amount"]) for r in rows} == expected
    # Only the finished file reaches the store: no .part or .unchecked file beside it.
    assert listing(bucket) == ["/" + target.removeprefix("memory://")]


def test_export_to_a_templated_file_uri(
    airflow_db: Path, sandbox: Any, september_first: set[str], tmp_path: Path
) -> None:
    target = tmp_path / "export_to_file_uri" / "transactions.csv"
    uri = f"file://{tmp_path}/{{{{ dag_run.dag_id }}}}/transactions.csv"

    run = storage_run("export_to_file_uri", export={**EXPORT, "output_path": uri})

    assert run.state == "success"
    assert run.xcom("export")["path"] == f"file://{target}"
    assert {r["transaction_eid"] for r in rows_of(target.read_bytes())} == september_first
    # A file:// URI is a local path, written in place: nothing else is left beside it.
    assert sorted(p.name for p in target.parent.iterdir()) == ["transactions.csv"]


def test_a_failed_export_uploads_nothing(airflow_db: Path, sandbox: Any, bucket: str) -> None:
    sandbox.configure(export_mode="fail", export_delay_sec=0.1)

    run = storage_run(
        "export_to_memory_failed", export={**EXPORT, "output_path": f"{bucket}/t.csv"}
    )

    assert run.state_of("export") == "failed"
    assert listing(bucket) == []


def test_a_templated_uri_naming_a_bucket_fails_before_any_request(
    airflow_db: Path, sandbox: Any, bucket: str
) -> None:
    run = storage_run(
        "export_to_memory_bucket_only",
        export={**EXPORT, "output_path": bucket + "/{{ 'exports' }}/"},
    )

    assert run.state_of("export") == "failed"
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("memory://bucket-x/", "names a bucket or a directory, not a file"),
        ("memory://bucket-x", "names a bucket or a directory, not a file"),
        ("s3://bucket/dir/", "names a bucket or a directory, not a file"),
        ("s3://bucket/a\nb.csv", "control character"),
    ],
)
def test_static_bad_uris_fail_when_the_dag_is_parsed(path: str, problem: str) -> None:
    with pytest.raises(AltcraftValidationError) as error:
        AltcraftExportTransactionsOperator(
            task_id="export", loyalty_program_id=1, points_currency_eid="stars", output_path=path
        )
    message = str(error.value)
    assert message.startswith("output_path")
    assert problem in message
    assert message.count(". ") <= 1  # one sentence (plus what is accepted)


def test_an_object_storage_path_is_accepted_and_shown_as_its_uri() -> None:
    path = ObjectStoragePath("s3://aws_default@bucket/altcraft/export.csv")

    task = AltcraftExportTransactionsOperator(
        task_id="export", loyalty_program_id=1, points_currency_eid="stars", output_path=path
    )

    assert task.output_path is path
    assert [asset.uri for asset in task.outlets] == ["s3://bucket/altcraft/export.csv"]


def test_a_uri_of_a_filesystem_this_worker_lacks_fails_before_any_request(
    airflow_db: Path,
    sandbox: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    run = storage_run(
        "export_to_unknown_scheme",
        export={**EXPORT, "output_path": "nosuchfs://bucket/{{ dag_run.dag_id }}.csv"},
    )

    assert run.state_of("export") == "failed"
    assert run.try_numbers[("export", -1)] == 1
    assert sandbox.requests() == []
    out, err = capfd.readouterr()
    assert (
        "Invalid argument: output_path: 'nosuchfs://bucket/export_to_unknown_scheme.csv' "
        "cannot be opened" in caplog.text + out + err
    )
