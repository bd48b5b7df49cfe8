"""fsspec's in-memory filesystem as an object store: attached to Airflow's object-storage
layer the way a deployment attaches s3:// or gs:// (the same code paths, no cloud account),
and a fresh bucket per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import fsspec  # type: ignore[import-untyped]
import pytest

from airflow_provider_altcraft.compat import AIRFLOW_V_3


def attach_memory() -> None:
    """Make ``memory://`` URIs open through Airflow's object-storage layer in this process."""
    if TYPE_CHECKING or AIRFLOW_V_3:
        from airflow.sdk.io import attach
    else:  # Airflow 2
        from airflow.io.store import attach
    attach("memory", fs=fsspec.filesystem("memory"))


@pytest.fixture
def bucket() -> Iterator[str]:
    """A fresh ``memory://`` bucket, attached to Airflow (removed afterwards)."""
    attach_memory()
    name = f"bucket-{uuid.uuid4().hex[:8]}"
    yield f"memory://{name}"
    memory = fsspec.filesystem("memory")
    if memory.exists(f"/{name}"):
        memory.rm(f"/{name}", recursive=True)
