"""What the provider's tasks read and write, named once for OpenLineage and Airflow Assets.

A dataset is a ``(namespace, name)`` pair following the OpenLineage naming conventions:

- the Altcraft loyalty ledger of one account: ``altcraft://<host[:port]>``,
  ``loyalty/transactions``;
- a local file: ``file``, its absolute path; an object-storage file: ``<scheme>://<bucket>``,
  its key;
- a warehouse table: ``<conn_type>://<host[:port]>``, ``<database>.<table>`` (as the SQL
  providers name it).

:func:`operator_lineage` turns the pairs into the OpenLineage provider's ``OperatorLineage``
when that provider is installed (the ``openlineage`` extra), and into None when it is not, so
operators can return it from ``get_openlineage_facets_on_complete`` unconditionally. Nothing
here is imported at DAG parse time except the standard library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from airflow_provider_altcraft import storage

__all__ = [
    "LOYALTY_TRANSACTIONS",
    "DatasetId",
    "altcraft_ledger",
    "file_dataset",
    "operator_lineage",
    "table_dataset",
]

#: The dataset name of an account's loyalty transactions (its points ledger).
LOYALTY_TRANSACTIONS = "loyalty/transactions"


class DatasetId(NamedTuple):
    namespace: str
    name: str

    @property
    def uri(self) -> str:
        """The dataset as one URI (an Airflow Asset URI)."""
        if self.namespace == "file":
            return "file://" + self.name
        return f"{self.namespace.rstrip('/')}/{self.name.lstrip('/')}"


def altcraft_ledger(base_url: str) -> DatasetId:
    """The loyalty ledger of the Altcraft account at ``base_url`` (no credentials, no path)."""
    parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
    host = parts.hostname or "unknown"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return DatasetId(f"altcraft://{netloc}", LOYALTY_TRANSACTIONS)


def file_dataset(path: object) -> DatasetId:
    """A file given as a local path or an object-storage URI."""
    local = storage.local_path(path)
    if local is not None:
        return DatasetId("file", os.path.abspath(local))
    parts = urlsplit(storage.display(path))
    bucket = parts.hostname or parts.netloc.rsplit("@", 1)[-1]
    return DatasetId(f"{parts.scheme}://{bucket}", parts.path.lstrip("/"))


def table_dataset(
    conn_type: str, host: str | None, port: int | None, database: str | None, table: str
) -> DatasetId:
    """A warehouse table; ``table`` may already be qualified (``schema.table``)."""
    netloc = (host or "localhost") + (f":{port}" if port else "")
    name = f"{database}.{table}" if database else table
    return DatasetId(f"{conn_type}://{netloc}", name)


def operator_lineage(
    inputs: Iterable[DatasetId], outputs: Iterable[DatasetId], **facets: Any
) -> Any | None:
    """An ``OperatorLineage`` of these datasets, or None without the OpenLineage provider.

    ``facets`` become run facets (e.g. a processing summary); keep them free of personal data.
    """
    try:
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    return OperatorLineage(
        inputs=[Dataset(namespace=item.namespace, name=item.name) for item in inputs],
        outputs=[Dataset(namespace=item.namespace, name=item.name) for item in outputs],
        run_facets=dict(facets),
    )
