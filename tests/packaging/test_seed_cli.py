"""``altcraft-sandbox --seed example`` finds the seed shipped in the package from any directory;
a path (relative to the working directory, or absolute) still works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_altcraft.sandbox import SEED_EXAMPLE, SandboxHandle
from airflow_provider_altcraft.sandbox.cli import PACKAGED_SEEDS, seed_path
from tests.packaging.sandbox_process import sandbox_process

REPO = Path(__file__).resolve().parents[2]
#: The console script of the environment running the tests (the editable install).
SANDBOX_SCRIPT = str(Path(sys.executable).with_name("altcraft-sandbox"))
#: A seed that is not the example: one program, no profiles, its own token.
OTHER_SEED = {
    "token": "file-token",
    "programs": [{"id": 9, "name": "Other", "currencies": [{"iid": 1, "eid": "pts"}]}],
    "profiles": [],
}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory outside the repository."""
    assert REPO not in tmp_path.resolve().parents
    return tmp_path


def _profiles(url: str) -> list[str]:
    return [p["profile_id"] for p in SandboxHandle.connect(url, token="").ledger()["profiles"]]


def _programs(url: str) -> list[int]:
    return [p["id"] for p in SandboxHandle.connect(url, token="").ledger()["programs"]]


def _start(seed: str) -> list[str]:
    return [SANDBOX_SCRIPT, "--host", "127.0.0.1", "--port", "0", "--quiet", "--seed", seed]


def test_the_name_example_is_the_packaged_seed() -> None:
    assert seed_path("example") == SEED_EXAMPLE == PACKAGED_SEEDS["example"]
    assert SEED_EXAMPLE.is_file()
    assert seed_path("seeds/example.json") == Path("seeds/example.json")
    assert seed_path("./example") == Path("example")  # a file called example, not the name


def test_seed_example_from_a_directory_outside_the_repository(outside: Path) -> None:
    with sandbox_process(_start("example"), cwd=outside) as url:
        assert _profiles(url) == ["p-1", "p-2", "p-3", "p-4", "p-5"]
        # The seed's token is the API token (no --token given).
        assert SandboxHandle(url, "sandbox-token").health()


def test_a_relative_path_is_read_from_the_working_directory(outside: Path) -> None:
    (outside / "my-seed.json").write_text(json.dumps(OTHER_SEED))
    with sandbox_process(_start("my-seed.json"), cwd=outside) as url:
        assert _programs(url) == [9] and _profiles(url) == []


def test_an_absolute_path_works_from_anywhere(outside: Path) -> None:
    seed = outside / "seeds" / "other.json"
    seed.parent.mkdir()
    seed.write_text(json.dumps(OTHER_SEED))
    cwd = outside / "elsewhere"
    cwd.mkdir()
    with sandbox_process(_start(str(seed)), cwd=cwd) as url:
        assert _programs(url) == [9]


def test_a_file_called_example_needs_a_path(outside: Path) -> None:
    (outside / "example").write_text(json.dumps(OTHER_SEED))
    with sandbox_process(_start("./example"), cwd=outside) as url:
        assert _programs(url) == [9]
    with sandbox_process(_start("example"), cwd=outside) as url:
        assert _programs(url) == [1, 2]  # the name wins: the packaged seed


def test_an_unknown_seed_is_a_clear_error(outside: Path) -> None:
    result = subprocess.run(
        _start("exampel"), cwd=outside, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "cannot read seed exampel" in result.stderr
