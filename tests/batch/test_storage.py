"""Batch files on object storage, in real DAG runs: rows read from ``file://`` and ``memory://``
URIs, results written to them, the default location moved by ``[altcraft] results_base``.

``memory://`` is fsspec's in-memory filesystem attached to Airflow's object-storage layer (the
DAG's first task attaches it, tests/dags/batch_storage.py): the same ``ObjectStoragePath`` path
as ``s3://`` or ``gs://`` without a cloud account. ``dag.test()`` runs the tasks in this
process on both Airflow versions, and fsspec's memory store is one per process, so the test
writes the rows there and reads the results back; a run that did not share the process could
not pass these tests (it would find no rows).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from airflow_provider_altcraft import storage
from airflow_provider_altcraft.batch.rows import RowSource, chunk_rows
from airflow_provider_altcraft.compat import AIRFLOW_V_3, ObjectStoragePath
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.operators.batch import AltcraftBatchRedeemPointsOperator
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.batch.conftest import (
    assert_each_once,
    expected_balances,
    ledger_balances,
    make_rows,
    write_csv,
)
from tests.dagrun import DagRunResult, load_test_dag, run_dag
from tests.object_storage import attach_memory, bucket

__all__ = ["bucket"]  # the fixture, imported for pytest


def put(uri: str, text: str) -> None:
    with fsspec.open(uri, "w", encoding="utf-8") as out:
        out.write(text)


def get(uri: str) -> str:
    with fsspec.open(uri, "r", encoding="utf-8") as data:
        return str(data.read())


def csv_text(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=sorted({key for row in rows for key in row}))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def results_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def storage_run(
    dag_id: str,
    *,
    retries: int = 0,
    chunk_size: int | None = None,
    object_paths: bool = False,
    **arguments: Any,
) -> DagRunResult:
    spec: dict[str, Any] = {
        "dag_id": dag_id,
        "retries": retries,
        "arguments": arguments,
        "object_paths": object_paths,
    }
    if chunk_size is not None:
        spec["chunk_size"] = chunk_size
    return run_dag(load_test_dag("batch_storage", dag_id, data=spec))


def run_output(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    """What a DAG run logged: Airflow 3 prints task logs (structlog), Airflow 2 logs them."""
    out, err = capfd.readouterr()
    return caplog.text + out + err


# -- real DAG runs ------------------------------------------------------------------------------


def test_rows_from_a_file_uri_results_to_memory(
    batch_sandbox: SandboxHandle, tmp_path: Path, bucket: str
) -> None:
    rows = make_rows(60)
    path = write_csv(tmp_path / "rows.csv", rows)
    target = f"{bucket}/runs/2024-09-01/results.csv"

    run = storage_run("storage_file_to_memory", rows_file=f"file://{path}", results_path=target)

    assert run.state == "success"
    assert_each_once(batch_sandbox, 60)
    assert ledger_balances(batch_sandbox) == expected_balances(rows)
    summary = run.xcom("batch")
    # The XCom names the same object (as the path object writes it: Airflow 2.11's memory
    # paths read "memory:///bucket/...").
    assert get(summary["results_path"]) == get(target)
    per_row = results_of(get(target))
    assert sorted(int(r["row"]) for r in per_row) == list(range(1, 61))
    assert {r["status"] for r in per_row} == {"sent"}
    assert sum(Decimal(r["amount"]) for r in per_row) == sum(Decimal(r["amount"]) for r in rows)
    # The progress record is appended to while rows are sent: never in the object store.
    assert not [name for name in fsspec.filesystem("memory").find(bucket) if "progress" in name]


def test_jsonl_rows_from_memory_results_to_a_file_uri(
    batch_sandbox: SandboxHandle, tmp_path: Path, bucket: str
) -> None:
    rows = make_rows(40)
    source = f"{bucket}/in/redemptions.jsonl"  # the format comes from the URI's suffix
    put(source, "".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "private" / "results.csv"

    run = storage_run("storage_memory_to_file", rows_file=source, results_path=f"file://{out}")

    assert run.state == "success"
    assert_each_once(batch_sandbox, 40)
    assert ledger_balances(batch_sandbox) == expected_balances(rows)
    assert run.xcom("batch")["sent"] == 40
    assert len(results_of(out.read_text("utf-8"))) == 40
    # A file:// URI is a local path: the local rules hold (owner-only file and directory).
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700


def test_object_storage_path_arguments(batch_sandbox: SandboxHandle, bucket: str) -> None:
    rows = make_rows(15)
    put(f"{bucket}/in/rows.csv", csv_text(rows))
    target = f"{bucket}/out/results.jsonl"

    run = storage_run(
        "storage_object_paths",
        object_paths=True,
        rows_file=f"{bucket}/in/rows.csv",
        results_path=target,
    )

    assert run.state == "success"
    assert_each_once(batch_sandbox, 15)
    summary = run.xcom("batch")
    assert summary["sent"] == 15
    written = [json.loads(line) for line in get(target).splitlines()]
    assert sorted(record["row"] for record in written) == list(range(1, 16))
    # The XCom names the same object (as the path object writes it: Airflow 2.11's memory
    # paths read "memory:///bucket/...").
    assert get(summary["results_path"]) == get(target)


def test_default_results_go_under_the_results_base_setting(
    batch_sandbox: SandboxHandle, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(storage.RESULTS_BASE_ENV, f"{bucket}/altcraft")
    rows = make_rows(20)

    run = storage_run("storage_default_base", rows=rows)

    assert run.state == "success"
    assert_each_once(batch_sandbox, 20)
    where = run.xcom("batch")["results_path"]
    safe_run = "".join(c if c.isalnum() or c in "-_." else "_" for c in run.run_id)
    assert where == f"{bucket}/altcraft/batch/storage_default_base/{safe_run}/batch.csv"
    assert {r["status"] for r in results_of(get(where))} == {"sent"}


def test_default_results_under_a_local_results_base_keep_their_progress_beside_them(
    batch_sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(storage.RESULTS_BASE_ENV, str(tmp_path / "shared"))

    run = storage_run("storage_local_base", rows=make_rows(10))

    assert run.state == "success"
    where = Path(run.xcom("batch")["results_path"])
    assert where.parent.parent == tmp_path / "shared" / "batch" / "storage_local_base"
    assert len(results_of(where.read_text("utf-8"))) == 10
    assert where.with_name(where.name + ".progress").exists()


def test_the_results_of_a_failed_run_still_land_in_the_store(
    batch_sandbox: SandboxHandle, bucket: str
) -> None:
    rows = make_rows(10)
    rows[3]["amount"] = "12.345"
    target = f"{bucket}/results.csv"

    run = storage_run("storage_failed_results", rows=rows, results_path=target, retries=2)

    assert run.state == "failed"
    assert run.try_numbers[("batch", -1)] == 1
    assert batch_sandbox.requests() == []
    (invalid,) = results_of(get(target))
    assert (invalid["row"], invalid["status"]) == ("4", "invalid")
    assert invalid["error"].startswith("row 4, column amount")


def test_a_retry_with_remote_results_sends_nothing_twice(
    batch_sandbox: SandboxHandle, bucket: str
) -> None:
    """Try 1 loses answers and the lookups after them, so it fails with rows of unknown
    outcome; try 2 (same task instance, on this worker) must find them all in the ledger
    and rewrite the remote results file, not refuse it as another run's."""
    rows = make_rows(80)
    batch_sandbox.set_faults(
        [
            {"kind": "drop_after", "rate": 0.2, "methods": ["loyalty/redeeme_points"]},
            {"kind": "http_503", "rate": 1.0, "methods": ["loyalty/account/transactions"],
             "max_count": 40},
        ],
        seed=3,
    )  # fmt: skip
    target = f"{bucket}/retry/results.csv"

    run = storage_run("storage_retry", rows=rows, results_path=target, retries=2)

    assert run.state == "success"
    assert run.try_numbers[("batch", -1)] == 2
    assert_each_once(batch_sandbox, 80)
    assert ledger_balances(batch_sandbox) == expected_balances(rows)
    per_row = results_of(get(target))
    assert len(per_row) == 80
    assert {r["status"] for r in per_row} <= {"sent", "already_present"}
    summary = run.xcom("batch")
    assert summary["sent"] + summary["already_present"] == 80 and summary["failed"] == 0


def test_mapped_chunks_of_a_remote_rows_file(batch_sandbox: SandboxHandle, bucket: str) -> None:
    rows = make_rows(45)
    source = f"{bucket}/in/rows.csv"
    put(source, csv_text(rows))

    run = storage_run("storage_chunks", rows_file=source, row_key_column="order_id", chunk_size=20)

    assert run.state == "success"
    assert [run.state_of("batch", i) for i in range(3)] == ["success"] * 3
    assert_each_once(batch_sandbox, 45)
    assert ledger_balances(batch_sandbox) == expected_balances(rows)
    assert [run.xcom("batch", map_index=i)["rows"] for i in range(3)] == [20, 20, 5]


def test_a_remote_results_file_of_another_run_is_never_overwritten(
    batch_sandbox: SandboxHandle,
    bucket: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    target = f"{bucket}/results.csv"
    put(target, "precious\n")

    with caplog.at_level(logging.ERROR):
        run = storage_run("storage_no_overwrite", rows=make_rows(3), results_path=target)

    assert run.state == "failed"
    assert get(target) == "precious\n"
    assert batch_sandbox.requests() == []
    assert f"results_path: '{target}' already exists, written by another run" in run_output(
        capfd, caplog
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(
            {"rows_file": "memory://nobody-here/rows.csv"},
            "rows_file: 'memory://nobody-here/rows.csv' does not exist",
            id="missing_rows",
        ),
        pytest.param(
            {"rows_file": "nosuchscheme://bucket/rows.csv"},
            "rows_file: 'nosuchscheme://bucket/rows.csv' cannot be opened",
            id="unknown_scheme_rows",
        ),
        pytest.param(
            {"results_path": "{{ params.where }}",
             "params": {"where": "nosuchscheme://bucket/results.csv"}},
            "results_path: 'nosuchscheme://bucket/results.csv' cannot be opened",
            id="unknown_scheme_results",
        ),
        pytest.param(
            {"results_path": "{{ params.where }}",
             "params": {"where": "memory://bucket/dir/"}},
            "results_path: 'memory://bucket/dir/' names a bucket or a directory, not a file",
            id="templated_directory",
        ),
        pytest.param(
            {"progress_path": "{{ params.where }}",
             "params": {"where": "memory://bucket/p.progress"}},
            "progress_path: 'memory://bucket/p.progress' is in an object store",
            id="templated_remote_progress",
        ),
    ],
)  # fmt: skip
def test_bad_uris_fail_in_one_sentence_before_any_request(
    batch_sandbox: SandboxHandle,
    arguments: dict[str, Any],
    message: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    arguments = dict(arguments)
    if "rows_file" not in arguments:
        arguments["rows"] = make_rows(3)
    dag_id = "storage_bad_" + request.node.callspec.id

    with caplog.at_level(logging.ERROR):
        run = storage_run(dag_id, retries=2, **arguments)

    assert run.state == "failed"
    assert run.try_numbers[("batch", -1)] == 1  # a retry cannot fix the argument
    assert batch_sandbox.requests() == []
    assert message in run_output(capfd, caplog)


# -- parse time and the row source --------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"results_path": "memory://bucket"}, "results_path: 'memory://bucket' names a bucket"),
        ({"results_path": "s3://bucket/dir/"}, "results_path: 's3://bucket/dir/' names a"),
        ({"progress_path": "s3://bucket/p"}, "progress_path: 's3://bucket/p' is in an object"),
    ],
)
def test_static_bad_uris_fail_the_dag_import(arguments: dict[str, Any], message: str) -> None:
    # No filesystem is opened at parse time: s3:// needs no provider installed to be refused.
    with pytest.raises(AltcraftValidationError) as caught:
        AltcraftBatchRedeemPointsOperator(
            task_id="t", loyalty_program_id=1, rows=make_rows(1), **arguments
        )
    assert str(caught.value).startswith(message)


def test_a_static_uri_is_accepted_at_parse_time_without_opening_it() -> None:
    operator = AltcraftBatchRedeemPointsOperator(
        task_id="t",
        loyalty_program_id=1,
        rows_file="s3://aws_default@bucket/in/rows.jsonl",
        results_path="gs://bucket/out/results.csv",
    )
    assert operator.rows_file == "s3://aws_default@bucket/in/rows.jsonl"


def test_object_storage_paths_and_uris_are_read_as_streams(bucket: str) -> None:
    attach_memory()
    rows = make_rows(25)
    put(f"{bucket}/rows.data.CSV", csv_text(rows))

    for given in (f"{bucket}/rows.data.CSV", ObjectStoragePath(f"{bucket}/rows.data.CSV")):
        source = RowSource.build(rows_file=given)
        assert source.file_format == "csv"
        assert [row for _, row in source.read()] == rows

    chunks = chunk_rows(rows_file=f"{bucket}/rows.data.CSV", chunk_size=10)
    assert [(c["row_start"], c["row_stop"]) for c in chunks] == [(1, 11), (11, 21), (21, 31)]
    numbers = [n for chunk in chunks for n, _ in RowSource.build(**chunk).read()]
    assert numbers == list(range(1, 26))


def test_format_detection_reads_the_uri_path_only() -> None:
    assert RowSource.build(rows_file="s3://b/x/rows.ndjson").file_format == "jsonl"
    assert RowSource.build(rows_file="s3://b.json/x/rows.csv").file_format == "csv"
    assert RowSource.build(rows_file="gs://b/rows.jsonl?generation=1").file_format == "jsonl"


class _RangeFile(AbstractBufferedFile):  # type: ignore[misc]
    def _fetch_range(self, start: int, end: int) -> bytes:
        return bytes(self.fs.blobs[self.path][start:end])


class _RangeFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """An object store as fsspec's S3 and GCS filesystems are: files are
    ``AbstractBufferedFile`` objects read by byte ranges, whose ``readline`` takes no size
    limit (in-memory files are ``BytesIO`` and would not show it)."""

    protocol = "rangestore"
    cachable = False

    def __init__(self, blobs: dict[str, bytes]) -> None:
        super().__init__()
        self.blobs = blobs

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if path not in self.blobs:
            raise FileNotFoundError(path)
        return {"name": path, "size": len(self.blobs[path]), "type": "file"}

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> _RangeFile:
        path = self._strip_protocol(path)
        if path not in self.blobs:
            raise FileNotFoundError(path)
        return _RangeFile(self, path, mode, block_size=64, size=len(self.blobs[path]))


def test_rows_stream_from_a_store_read_by_byte_ranges() -> None:
    rows = make_rows(30)
    blobs = {"bucket/rows.csv": csv_text(rows).encode(), "bucket/rows.jsonl": b"".join(
        json.dumps(row).encode() + b"\n" for row in rows
    )}  # fmt: skip
    if AIRFLOW_V_3:
        from airflow.sdk.io import attach
    else:
        from airflow.io.store import attach
    # Known to fsspec as a provider's filesystem is, attached with its contents.
    fsspec.register_implementation("rangestore", _RangeFileSystem, clobber=True)
    attach("rangestore", fs=_RangeFileSystem(blobs))

    for name in ("rows.csv", "rows.jsonl"):
        source = RowSource.build(rows_file=f"rangestore://bucket/{name}")
        assert [row for _, row in source.read()] == rows
    with pytest.raises(AltcraftValidationError, match=r"^rows_file: .* does not exist"):
        list(RowSource.build(rows_file="rangestore://bucket/missing.csv").read())
