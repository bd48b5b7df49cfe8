"""Where the provider's files live: a local path or an Airflow object-storage URI.

Every path argument (``rows_file``, ``results_path``, an export's ``output_path``, a
reconcile report) is either a local path or a URI that Airflow's own object-storage layer
(``ObjectStoragePath``: ``s3://``, ``gs://``, ``abfs://``, ``file://`` ..., with the
connection in the URI's user part, ``s3://aws_default@bucket/key``) can open. No cloud SDK of
ours: the filesystems come from the Airflow providers the deployment already has.

Remote files are streamed, never read whole into memory:

- :func:`open_for_reading` streams a file's bytes (the batch reads its rows this way);
- :func:`local_copy` streams a remote file into a private scratch file for a reader that needs
  a local path (DuckDB, SQLite), and yields local paths unchanged;
- :func:`staged_output` gives writers a private local file and streams it to the remote target
  when they are done, so the writers keep their local guarantees (0600 files, ``.part``
  renames) and the remote object appears whole or not at all.

Only the standard library is imported here at module level: Airflow's object-storage layer
(and fsspec with it) is imported on first use of a remote path, so DAG parsing stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

from airflow_provider_altcraft.exceptions import AltcraftError, AltcraftValidationError
from airflow_provider_altcraft.validation import check_output_path, check_text

if TYPE_CHECKING:
    from airflow_provider_altcraft.compat import ObjectStoragePath

__all__ = [
    "RESULTS_BASE_ENV",
    "StoragePath",
    "StorageUnavailableError",
    "as_text",
    "check_output",
    "default_results_base",
    "display",
    "exists",
    "is_remote",
    "join",
    "local_base",
    "local_copy",
    "local_path",
    "open_for_reading",
    "open_private",
    "staged_output",
    "to_object_path",
]

#: A path argument as DAG authors pass it.
StoragePath: TypeAlias = "str | os.PathLike[str] | ObjectStoragePath"

#: The one setting that points every worker's default results location somewhere shared:
#: ``[altcraft] results_base`` in airflow.cfg, i.e. this environment variable.
RESULTS_BASE_ENV = "AIRFLOW__ALTCRAFT__RESULTS_BASE"

#: Schemes that name the local filesystem.
_LOCAL_SCHEMES = frozenset({"", "file", "local"})
_COPY_CHUNK = 1024 * 1024


def as_text(path: object) -> str:
    """A path argument as text: a URI for object-storage paths (its connection in the user
    part), the path itself otherwise."""
    if _is_object_path(path):
        return str(path)
    if isinstance(path, os.PathLike):
        return str(os.fspath(path))
    if isinstance(path, str):
        return path
    raise TypeError(type(path).__name__)


def _is_object_path(path: object) -> bool:
    # Checked by name so that a local path never imports Airflow's object-storage layer.
    return any(cls.__name__ == "ObjectStoragePath" for cls in type(path).__mro__)


def _scheme(text: str) -> str:
    # A Windows drive ("C:\\x") or a bare path has no scheme worth the name.
    if "://" not in text:
        return ""
    return urlsplit(text).scheme.lower()


class StorageUnavailableError(AltcraftError):
    """The object store did not answer (a retry may reach it)."""


def is_remote(path: object) -> bool:
    """Whether ``path`` names an object-storage location rather than the local filesystem."""
    if _is_object_path(path):
        return str(getattr(path, "protocol", "") or "").lower() not in _LOCAL_SCHEMES
    return _scheme(as_text(path)) not in _LOCAL_SCHEMES


def local_path(path: object) -> Path | None:
    """The local filesystem path ``path`` names (``file://`` URIs included), None if remote."""
    if is_remote(path):
        return None
    text = as_text(path)
    if _scheme(text) in {"file", "local"}:
        parts = urlsplit(text)
        host = "" if parts.netloc in ("", "localhost") else parts.netloc
        return Path(host + parts.path)
    return Path(text)


def display(path: object) -> str:
    """``path`` as text for messages, logs and XComs: a password in a URI is never shown."""
    text = as_text(path)
    parts = urlsplit(text) if _scheme(text) else None
    if parts is not None and parts.password is not None:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return text


def to_object_path(path: object) -> ObjectStoragePath:
    """``path`` as an Airflow ``ObjectStoragePath`` (imports the object-storage layer)."""
    from airflow_provider_altcraft.compat import ObjectStoragePath

    if isinstance(path, ObjectStoragePath):
        return path
    return ObjectStoragePath(as_text(path))


def join(base: object, *parts: str) -> str:
    """``base`` joined with ``parts`` by ``/``, as text (a URI stays a URI)."""
    if is_remote(base):
        return "/".join([as_text(base).rstrip("/"), *(part.strip("/") for part in parts)])
    return os.path.join(local_path(base) or "", *parts)


def local_base() -> str:
    """This worker's own directory for the provider's files: ``<temp dir>/altcraft``."""
    return os.path.join(tempfile.gettempdir(), "altcraft")


def default_results_base() -> str:
    """Where results files go when a task names none: ``[altcraft] results_base`` (a local
    directory or an object-storage URI every worker can reach; Airflow's configuration also
    reads it from ``AIRFLOW__ALTCRAFT__RESULTS_BASE``), else :func:`local_base`."""
    from airflow_provider_altcraft.compat import conf

    return conf.get("altcraft", "results_base", fallback=None) or local_base()


def check_output(path: object, parameter: str, *, partial_suffix: str | None = None) -> str:
    """A path that can be written, checked without any network call: local paths as
    :func:`validation.check_output_path` does; a URI must be text naming an object (not a
    bucket or a directory). Returns the path as text."""
    accepted = "pass a local file path or an object-storage URI such as 's3://bucket/file.csv'"
    if not _is_object_path(path) and not isinstance(path, (str, os.PathLike)):
        raise AltcraftValidationError(
            parameter, f"type {type(path).__name__} is not a path", accepted
        )
    if not is_remote(path):
        local = local_path(path)
        check_output_path(str(local), parameter, partial_suffix=partial_suffix)
        return as_text(path)
    text = as_text(path)
    check_text(text, parameter, accepted)
    key = urlsplit(text).path if not _is_object_path(path) else str(getattr(path, "key", ""))
    if not key.strip("/") or text.endswith("/"):
        raise AltcraftValidationError(
            parameter, f"{display(path)!r} names a bucket or a directory, not a file", accepted
        )
    return text


def open_private(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> IO[Any]:
    """``path`` opened for writing as an owner-only file (0600, an existing one too), never
    through a symbolic link, its missing directories created owner-only (0700): for files
    holding other people's points (results, exports, reports)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file (an earlier try's) too
    return open(descriptor, mode, **kwargs)


def exists(path: object, parameter: str) -> bool:
    """Whether a file is at ``path``. For a URI this opens its filesystem, so call it at run
    time, before any request to Altcraft: a scheme or connection this worker lacks is an
    :class:`AltcraftValidationError` naming ``parameter``; a store that does not answer is a
    :class:`StorageUnavailableError`."""
    local = local_path(path)
    if local is not None:
        return local.exists()
    shown = display(path)
    try:
        return bool(to_object_path(path).exists())
    except OSError as exc:
        raise StorageUnavailableError(
            f"{parameter}: {shown!r} cannot be reached ({type(exc).__name__})"
        ) from None
    except Exception as exc:  # unknown scheme, missing filesystem package or connection
        raise AltcraftValidationError(
            parameter,
            f"{shown!r} cannot be opened ({type(exc).__name__}: {exc})",
            "pass a URI of a filesystem this worker has (its provider installed, its "
            "connection defined)",
        ) from None


@contextlib.contextmanager
def open_for_reading(path: object, parameter: str) -> Iterator[IO[bytes]]:
    """A binary stream of the file at ``path``; a missing or unreadable file is one sentence
    naming ``parameter``."""
    accepted = "pass an existing readable file: a local path or an object-storage URI"
    local = local_path(path)
    try:
        if local is not None:
            handle: IO[bytes] = open(local, "rb")  # noqa: SIM115 - closed below
        else:
            handle = to_object_path(path).open("rb")  # type: ignore[no-untyped-call]
    except FileNotFoundError:
        raise AltcraftValidationError(
            parameter, f"{display(path)!r} does not exist", accepted
        ) from None
    except IsADirectoryError:
        raise AltcraftValidationError(
            parameter, f"{display(path)!r} is a directory, not a file", accepted
        ) from None
    except PermissionError:
        raise AltcraftValidationError(
            parameter, f"{display(path)!r} cannot be read (permission denied)", accepted
        ) from None
    except (OSError, ValueError, ImportError) as exc:
        # ValueError: no filesystem registered for the scheme; ImportError: its fsspec
        # implementation (s3fs, gcsfs, ...) is not installed.
        raise AltcraftValidationError(
            parameter, f"{display(path)!r} cannot be opened ({type(exc).__name__}: {exc})",
            accepted,
        ) from None  # fmt: skip
    with handle:
        yield handle


def _private_scratch(scratch_dir: str | os.PathLike[str] | None, suffix: str) -> Path:
    directory = tempfile.mkdtemp(prefix="altcraft-", dir=scratch_dir)  # 0700
    return Path(directory) / f"file{suffix}"


@contextlib.contextmanager
def local_copy(
    path: object, parameter: str, *, scratch_dir: str | os.PathLike[str] | None = None
) -> Iterator[Path]:
    """A local path holding the file at ``path``: the path itself when it is local, else a
    private copy streamed into ``scratch_dir`` (the temp directory by default), deleted on
    exit."""
    local = local_path(path)
    if local is not None:
        yield local
        return
    target = _private_scratch(scratch_dir, Path(urlsplit(as_text(path)).path).suffix)
    try:
        with open_for_reading(path, parameter) as source:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "wb") as out:
                shutil.copyfileobj(source, out, _COPY_CHUNK)
        yield target
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


@contextlib.contextmanager
def staged_output(path: object, parameter: str, *, upload_on_error: bool = False) -> Iterator[Path]:
    """A local path for a writer of ``path``. A local ``path`` is yielded as is. For a URI,
    the writer gets a private scratch file, streamed to ``path`` when the block ends; if the
    block raises, it is uploaded only with ``upload_on_error`` (a results file that explains
    a failure is worth keeping; a half-written export is not)."""
    local = local_path(path)
    if local is not None:
        yield local
        return
    target = _private_scratch(None, Path(urlsplit(as_text(path)).path).suffix)
    try:
        try:
            yield target
        except BaseException:
            if upload_on_error and target.exists():
                _upload(target, path, parameter)
            raise
        if target.exists():
            _upload(target, path, parameter)
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


def _upload(source: Path, path: object, parameter: str) -> None:
    destination = to_object_path(path)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb") as data, destination.open("wb") as out:  # type: ignore[no-untyped-call]
            shutil.copyfileobj(data, out, _COPY_CHUNK)
    except (OSError, ValueError, ImportError) as exc:
        raise AltcraftValidationError(
            parameter,
            f"{display(path)!r} could not be written ({type(exc).__name__}: {exc})",
            "pass an object-storage URI this worker's connection may write",
        ) from None
