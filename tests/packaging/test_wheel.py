"""Works from a wheel: build the wheel and the sdist as a release would, check what is in them,
``twine check`` them, then install the wheel into a clean virtualenv with the pinned
constraints and, from a directory outside the repository, start ``altcraft-sandbox --seed
example`` and run the two-phase redemption example DAG against it.

Needs the package index (the isolated build fetches setuptools; the clean venv installs
Airflow): without it the module is skipped, except with ``CI=true``, where it fails. The clean
venv gets the Airflow line of the environment running the tests (3.3 in ``.venv``, 2.11 in
``.venv-af2``); with a warm pip cache the install takes about half a minute.
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from email.parser import HeaderParser
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest

from airflow_provider_altcraft import __version__
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.packaging.sandbox_process import sandbox_process

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_altcraft"
DIST_INFO = f"{PACKAGE}-{__version__}.dist-info"
SDIST_ROOT = f"{PACKAGE}-{__version__}"
AIRFLOW_LINE = "2.11" if version("apache-airflow").startswith("2.") else "3.3"
CONSTRAINTS = REPO / "constraints" / f"airflow-{AIRFLOW_LINE}.txt"
EXAMPLE_DAG = "altcraft_two_phase_redemption"
#: Bounds. Measured here: build ~10 s, clean-venv install ~30 s with a warm pip cache.
BUILD_TIMEOUT_SEC = 600
INSTALL_TIMEOUT_SEC = 900
AIRFLOW_TIMEOUT_SEC = 600

#: The package's files that are not Python modules (package data); anything else is stray.
PACKAGE_DATA = {"py.typed", "sandbox/seed_example.json"}
#: The sdist's files outside the package and its generated metadata: the build's inputs, the
#: project's Markdown files and the documentation's sources (its pages and Sphinx config).
SDIST_FILES = {
    "PKG-INFO",
    "pyproject.toml",
    "setup.cfg",  # written by setuptools (egg_info tags)
    "MANIFEST.in",
    "README.md",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "SECURITY.md",
    "LICENSE",
    "NOTICE",
    "docs/conf.py",
    *(f"docs/{page.name}" for page in (REPO / "docs").glob("*.md")),
}
STRAY_SUFFIXES = {".pyc", ".pyo", ".part", ".tmp", ".orig", ".rej", ".swp", ".log", ".db"}


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that points into the test session or the repository
    (the session's AIRFLOW_* settings, PYTHONPATH, the active virtualenv)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AIRFLOW")
        and key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTEST_ADDOPTS"}
    }
    env.update(extra)
    return env


def _run(
    command: Sequence[str | os.PathLike[str]],
    *,
    timeout: float,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    argv = [os.fspath(part) for part in command]
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=dict(env if env is not None else _clean_env()),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(argv)} exited with {result.returncode}:\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    return result


def _venv(path: Path) -> Path:
    """A new virtualenv with pip (as ``python -m venv`` makes it); returns its python."""
    _run([sys.executable, "-m", "venv", path], timeout=120, cwd=path.parent)
    return path / "bin" / "python"


def _index_unreachable(python: Path, cwd: Path) -> str | None:
    """Why the package index this pip installs from cannot be reached; None when it can.

    The index is the one pip is configured with (PIP_INDEX_URL, pip.conf), else pip's own
    default; through the HTTPS proxy when one is set."""
    index = os.environ.get("PIP_INDEX_URL")
    if not index:
        configured = subprocess.run(
            [python, "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
            cwd=cwd,
            check=False,
        )
        index = configured.stdout.strip() if configured.returncode == 0 else ""
    if not index:
        default = subprocess.run(
            [python, "-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"],
            capture_output=True,
            text=True,
            cwd=cwd,
            check=True,
        )
        index = default.stdout.strip()
    target = urlsplit(index)
    if target.scheme == "file":
        return None
    proxy = os.environ.get("https_proxy") or os.environ.get("HTTPS_PROXY")
    if proxy and target.scheme == "https":
        target = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host, port = target.hostname or "", target.port or (443 if target.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=10):
            return None
    except OSError as exc:
        return f"no network: the package index {index} cannot be reached ({exc})"


@dataclass(frozen=True)
class Dists:
    wheel: Path
    sdist: Path
    tools: Path  # a python with build and twine


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtualenv (nothing but pip); skips the module when the index is unreachable
    (fails instead with CI=true)."""
    where = tmp_path_factory.mktemp("clean-venv")
    python = _venv(where / "venv")
    reason = _index_unreachable(python, where)
    if reason is not None:
        if _ci():
            pytest.fail(f"CI=true, so the packaging tests must run, but {reason}", pytrace=False)
        pytest.skip(reason)
    return python


@pytest.fixture(scope="module")
def dists(clean_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """The sdist, and the wheel built from it, by ``python -m build`` (isolated, as a release
    is built). build and twine come from the dev extra, else from a venv made for them."""
    if all(importlib.util.find_spec(name) for name in ("build", "twine")):
        tools = Path(sys.executable)
    else:  # .venv-af2 has the test extra only
        where = tmp_path_factory.mktemp("tools")
        tools = _venv(where / "venv")
        _run(
            [tools, "-m", "pip", "install", "-q", "-c", CONSTRAINTS, "build", "twine"],
            timeout=INSTALL_TIMEOUT_SEC,
            cwd=where,
        )
    out = tmp_path_factory.mktemp("dist")
    _run([tools, "-m", "build", "--outdir", out, REPO], timeout=BUILD_TIMEOUT_SEC, cwd=REPO)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Dists(wheel=wheel, sdist=sdist, tools=tools)


def _stray(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        any(part == "__pycache__" or part.startswith(".") for part in path.parts)
        or path.suffix in STRAY_SUFFIXES
        or name.endswith("~")
    )


def _package_files(names: Sequence[str], prefix: str = "") -> set[str]:
    """The package's files (paths inside the package directory)."""
    inside = f"{prefix}{PACKAGE}/"
    return {name[len(inside) :] for name in names if name.startswith(inside)}


def _tracked_modules() -> set[str]:
    """The package's modules committed in git (a wheel may hold newer ones; never fewer)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        return set()
    listed = subprocess.run(
        ["git", "ls-files", "--", f"{PACKAGE}/*.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {name[len(PACKAGE) + 1 :] for name in listed if (REPO / name).exists()}


def _check_package(files: set[str], where: str) -> None:
    assert "__init__.py" in files and "sandbox/cli.py" in files and "probe/__init__.py" in files
    assert files >= PACKAGE_DATA, f"{where} lacks {PACKAGE_DATA - files}"
    other = {name for name in files if not name.endswith(".py")} - PACKAGE_DATA
    assert not other, f"{where}: files that are neither modules nor package data: {other}"
    missing = _tracked_modules() - files
    assert not missing, f"{where} lacks committed modules: {sorted(missing)}"


def test_wheel_contents(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = [name for name in wheel.namelist() if not name.endswith("/")]
        read = {name: wheel.read(name).decode() for name in names if name.startswith(DIST_INFO)}
    outside = [n for n in names if not n.startswith((f"{PACKAGE}/", f"{DIST_INFO}/"))]
    assert not outside, f"files outside the package and its metadata: {outside}"
    stray = [name for name in names if _stray(name)]
    assert not stray, f"stray files in the wheel: {stray}"
    _check_package(_package_files(names), "the wheel")

    assert read[f"{DIST_INFO}/licenses/LICENSE"] == (REPO / "LICENSE").read_text()
    assert read[f"{DIST_INFO}/licenses/NOTICE"] == (REPO / "NOTICE").read_text()
    assert "Apache License" in read[f"{DIST_INFO}/licenses/LICENSE"][:200]

    metadata = HeaderParser().parsestr(read[f"{DIST_INFO}/METADATA"])
    assert metadata["Name"] == "airflow-provider-altcraft"
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE", "NOTICE"]
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["Description-Content-Type"] == "text/markdown"
    classifiers = set(metadata.get_all("Classifier") or [])
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert "Framework :: Apache Airflow :: Provider" in classifiers
    # The PyPI page is docs/installation.md (pip-first), not the repository's README.
    assert re.search(r"pip install .*airflow-provider-altcraft", str(metadata.get_payload()))

    entry_points = configparser.ConfigParser()
    entry_points.read_string(read[f"{DIST_INFO}/entry_points.txt"])
    assert dict(entry_points["console_scripts"]) == {
        "altcraft-sandbox": "airflow_provider_altcraft.sandbox.cli:main",
        "altcraft-probe": "airflow_provider_altcraft.probe:main",
    }
    assert dict(entry_points["apache_airflow_provider"]) == {
        "provider_info": "airflow_provider_altcraft:get_provider_info"
    }


def test_sdist_contents(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as sdist:
        names = [member.name for member in sdist.getmembers() if member.isfile()]
        license_text = sdist.extractfile(f"{SDIST_ROOT}/LICENSE").read().decode()  # type: ignore[union-attr]
    assert all(name.startswith(f"{SDIST_ROOT}/") for name in names)
    relative = [name[len(SDIST_ROOT) + 1 :] for name in names]
    stray = [name for name in relative if _stray(name)]
    assert not stray, f"stray files in the sdist: {stray}"
    top = {
        name for name in relative if not name.startswith((f"{PACKAGE}/", f"{PACKAGE}.egg-info/"))
    }
    assert top == SDIST_FILES, f"unexpected: {top - SDIST_FILES}, missing: {SDIST_FILES - top}"
    _check_package(_package_files(relative), "the sdist")
    assert license_text == (REPO / "LICENSE").read_text()
    # The wheel is built from the sdist, so the two hold the same package.
    with zipfile.ZipFile(dists.wheel) as wheel:
        assert _package_files(wheel.namelist()) == _package_files(relative)


def test_twine_check(dists: Dists) -> None:
    result = _run(
        [dists.tools, "-m", "twine", "check", "--strict", dists.wheel, dists.sdist],
        timeout=120,
        cwd=dists.wheel.parent,
    )
    assert result.stdout.count("PASSED") == 2, result.stdout


@pytest.fixture
def sandbox_from_wheel(
    dists: Dists, clean_python: Path, tmp_path: Path
) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """The wheel installed into the clean venv; its ``altcraft-sandbox --seed example`` running
    in a directory outside the repository. Yields (that directory, the URL, the env)."""
    bin_dir = clean_python.parent
    started = time.monotonic()
    _run(
        [clean_python, "-m", "pip", "install", "-q", "-c", CONSTRAINTS, dists.wheel],
        timeout=INSTALL_TIMEOUT_SEC,
        cwd=tmp_path,
    )
    print(
        f"clean venv: wheel + Airflow {AIRFLOW_LINE} installed in {time.monotonic() - started:.0f}s"
    )
    work = tmp_path / "user"
    work.mkdir()
    assert REPO not in work.resolve().parents
    env = _clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    where = _run(
        [clean_python, "-c", "import airflow_provider_altcraft as p; print(p.__file__)"],
        timeout=60,
        cwd=work,
        env=env,
    ).stdout.strip()
    assert Path(where).is_relative_to(bin_dir.parent), f"imported from {where}, not the venv"
    token = "wheel-test-token-4f0c2a"
    command = [
        str(bin_dir / "altcraft-sandbox"),
        *("--host", "127.0.0.1", "--port", "0", "--token", token, "--seed", "example"),
    ]
    with sandbox_process(command, cwd=work, env=env) as url:
        env["AIRFLOW_CONN_ALTCRAFT_DEFAULT"] = json.dumps(
            {"conn_type": "altcraft", "host": url, "password": token}
        )
        yield work, url, env


def _docs_dag() -> tuple[str, str]:
    """The first DAG of docs/installation.md (the PyPI page): its dag_id and source."""
    (source,) = re.findall(
        r"```python\n(.*?)```", (REPO / "docs/installation.md").read_text(), re.S
    )
    (dag_id,) = re.findall(r'dag_id="(\w+)"', source)
    return dag_id, source


def test_example_dags_from_the_wheel(
    sandbox_from_wheel: tuple[Path, str, dict[str, str]], clean_python: Path
) -> None:
    """The repository's example DAG and the one in docs/installation.md, each run once with
    ``airflow dags test`` (SQLite metadata DB): two redemptions of 25 points, committed."""
    work, url, env = sandbox_from_wheel
    airflow = clean_python.with_name("airflow")
    dags = work / "dags"
    dags.mkdir()
    shutil.copy(REPO / "dags_examples" / f"{EXAMPLE_DAG}.py", dags)
    docs_dag_id, docs_source = _docs_dag()
    (dags / f"{docs_dag_id}.py").write_text(docs_source)
    home = work / "airflow"
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )
    sandbox = SandboxHandle.connect(url, token="")
    before = Decimal(sandbox.balance(1, "p-1", "stars")["total_balance"])
    _run([airflow, "db", "migrate"], timeout=AIRFLOW_TIMEOUT_SEC, cwd=work, env=env)
    # Registered through the apache_airflow_provider entry point, as official providers are.
    providers = _run([airflow, "providers", "list"], timeout=AIRFLOW_TIMEOUT_SEC, cwd=work, env=env)
    assert re.search(
        rf"airflow-provider-altcraft\s*\|.*\|\s*{re.escape(__version__)}", providers.stdout
    )
    for number, dag_id in enumerate((EXAMPLE_DAG, docs_dag_id), start=1):
        result = _run(
            [airflow, "dags", "test", dag_id, "2024-09-01"],
            timeout=AIRFLOW_TIMEOUT_SEC,
            cwd=work,
            env=env,
        )
        log = result.stdout + result.stderr
        states = re.findall(rf"DagRun Finished: dag_id={dag_id},.*?state=(\w+)", log)
        assert states == ["success"], f"{dag_id}: DAG run states {states}:\n{log[-4000:]}"

        redemptions = [
            t for t in sandbox.ledger()["transactions"] if t["transaction_type"] == "redeem"
        ]
        assert len(redemptions) == number, redemptions
        assert all(t["status"] == "committed" for t in redemptions), redemptions
        assert all(t["profile_id"] == "p-1" for t in redemptions), redemptions
        after = Decimal(sandbox.balance(1, "p-1", "stars")["total_balance"])
        assert before - after == Decimal("25") * number, (dag_id, before, after)
