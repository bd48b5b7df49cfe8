"""storage.py and lineage.py: local paths and object-storage URIs, against a real fsspec
in-memory filesystem registered with Airflow's own object-storage layer (the same code path as
s3:// or gs://, without a cloud account)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from airflow_provider_altcraft import lineage, storage
from airflow_provider_altcraft.compat import ObjectStoragePath
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from tests.object_storage import bucket

__all__ = ["bucket"]  # the fixture, imported for pytest


def test_local_and_remote_are_told_apart(tmp_path: Path) -> None:
    assert not storage.is_remote(str(tmp_path / "x.csv"))
    assert not storage.is_remote(tmp_path / "x.csv")
    assert not storage.is_remote(f"file://{tmp_path}/x.csv")
    assert storage.local_path(f"file://{tmp_path}/x.csv") == tmp_path / "x.csv"
    assert storage.is_remote("s3://bucket/x.csv")
    assert storage.local_path("s3://aws_default@bucket/x.csv") is None
    assert storage.is_remote(ObjectStoragePath("memory://b/x.csv"))


def test_a_password_in_a_uri_is_never_displayed() -> None:
    shown = storage.display("sftp://user:hunter2@host/reports/x.csv")
    assert "hunter2" not in shown
    assert shown == "sftp://user:***@host/reports/x.csv"
    assert storage.display("s3://aws_default@bucket/x.csv") == "s3://aws_default@bucket/x.csv"


def test_staged_output_streams_a_whole_file_up_and_reads_it_back(bucket: str) -> None:
    target = f"{bucket}/runs/2024-09-01/results.csv"
    with storage.staged_output(target, "results_path") as local:
        assert local.parent.stat().st_mode & 0o777 == 0o700
        local.write_text("row,status\n1,sent\n")
        scratch = local.parent
    assert not scratch.exists(), "the private scratch copy is removed"
    with storage.open_for_reading(target, "rows_file") as handle:
        assert handle.read() == b"row,status\n1,sent\n"
    with storage.local_copy(target, "rows_file") as copy:
        assert copy.read_text() == "row,status\n1,sent\n"
        assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
    assert not copy.exists()


def test_a_failed_writer_uploads_only_when_asked(bucket: str) -> None:
    for upload_on_error, expected in ((False, False), (True, True)):
        target = f"{bucket}/failed-{upload_on_error}.csv"
        with (
            pytest.raises(RuntimeError),
            storage.staged_output(target, "output_path", upload_on_error=upload_on_error) as local,
        ):
            local.write_text("partial\n")
            raise RuntimeError("the export broke")
        assert ObjectStoragePath(target).exists() is expected


def test_local_paths_pass_through_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    with storage.staged_output(str(path), "report_path") as local:
        assert local == path
    with storage.local_copy(f"file://{path}", "x") as local:
        assert local == path


def test_unreadable_and_unwritable_locations_are_one_sentence(bucket: str, tmp_path: Path) -> None:
    missing = f"{bucket}/missing.csv"
    with (
        pytest.raises(AltcraftValidationError, match=r"^rows_file: .*missing.csv' does not exist"),
        storage.open_for_reading(missing, "rows_file"),
    ):
        pass
    with pytest.raises(AltcraftValidationError, match="names a bucket or a directory"):
        storage.check_output("s3://bucket/", "output_path")
    with pytest.raises(AltcraftValidationError, match="is not a path"):
        storage.check_output(42, "output_path")
    with pytest.raises(AltcraftValidationError, match="is a directory"):
        storage.check_output(str(tmp_path), "output_path")
    assert storage.check_output("s3://bucket/a.csv", "output_path") == "s3://bucket/a.csv"


def test_one_setting_moves_every_default_results_location(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(storage.RESULTS_BASE_ENV, "s3://aws_default@shared/altcraft")
    assert storage.default_results_base() == "s3://aws_default@shared/altcraft"
    assert storage.join(storage.default_results_base(), "dag", "run", "results.csv") == (
        "s3://aws_default@shared/altcraft/dag/run/results.csv"
    )
    monkeypatch.delenv(storage.RESULTS_BASE_ENV)
    assert not storage.is_remote(storage.default_results_base())


def test_dataset_names_follow_the_openlineage_conventions(tmp_path: Path) -> None:
    ledger = lineage.altcraft_ledger("https://token@example.altcraft.com:8443/api/v1.1/")
    assert ledger == ("altcraft://example.altcraft.com:8443", "loyalty/transactions")
    assert lineage.file_dataset(str(tmp_path / "a.csv")) == ("file", str(tmp_path / "a.csv"))
    assert lineage.file_dataset("s3://aws_default@bucket/k/a.csv") == ("s3://bucket", "k/a.csv")
    assert lineage.file_dataset("gs://bucket/a.csv").uri == "gs://bucket/a.csv"
    table = lineage.table_dataset("postgres", "db.internal", 5432, "dwh", "public.points")
    assert table == ("postgres://db.internal:5432", "dwh.public.points")


def test_the_results_base_setting_is_declared_where_airflow_lists_its_options() -> None:
    from airflow_provider_altcraft.provider_info import provider_info

    section, option = storage.RESULTS_BASE_ENV.removeprefix("AIRFLOW__").lower().split("__")
    declared = provider_info()["config"][section]["options"][option]
    assert declared["type"] == "string" and declared["default"] is None


def test_a_scheme_without_a_filesystem_is_one_sentence() -> None:
    with (
        pytest.raises(AltcraftValidationError, match=r"^rows_file: 'nosuchfs://b/a.csv' cannot"),
        storage.open_for_reading("nosuchfs://b/a.csv", "rows_file"),
    ):
        pass


def test_private_files_are_owner_only_and_never_written_through_a_link(tmp_path: Path) -> None:
    path = tmp_path / "new" / "report.csv"
    with storage.open_private(path) as handle:
        handle.write("a\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)  # an earlier try's file, made readable by someone
    with storage.open_private(path) as handle:
        handle.write("b\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "b\n"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    link = tmp_path / "link.csv"
    link.symlink_to(victim)
    with pytest.raises(OSError):
        storage.open_private(link)
    assert victim.read_text() == "keep"
