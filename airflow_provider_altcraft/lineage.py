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

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from airflow_provider_altcraft import storage

__all__ = [
    "LOYALTY_TRANSACTIONS",
    "DatasetId",
    "altcraft_ledger",
    "file_dataset",
    "operator_lineage",
    "sql_input_datasets",
    "table_dataset",
    "warehouse_tables",
]

log = logging.getLogger(__name__)

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


def warehouse_tables(conn_id: str, tables: Iterable[str]) -> list[DatasetId]:
    """``tables`` on the Airflow connection ``conn_id``, named from the connection's type,
    host, port and schema (never its login or password; no network). Empty when the
    connection cannot be read: lineage is best effort and never fails a task."""
    try:
        from airflow_provider_altcraft.compat import BaseHook

        connection = BaseHook.get_connection(conn_id)
    except Exception:
        log.debug("No lineage for connection %r", conn_id, exc_info=True)
        return []
    if connection.conn_type == "sqlite":  # the "host" of a SQLite connection is its file
        return [DatasetId(f"sqlite://{connection.host or ''}", table) for table in tables]
    conn_type = connection.conn_type or "unknown"
    return [
        table_dataset(conn_type, connection.host, connection.port, connection.schema, table)
        for table in tables
    ]


def sql_input_datasets(sql: str, conn_id: str) -> list[DatasetId]:
    """The tables ``sql`` reads, on connection ``conn_id``. Empty when the OpenLineage SQL
    parser (part of the ``openlineage`` extra) is not installed or cannot tell."""
    try:
        from openlineage.common.sql import parse  # type: ignore[import-untyped]

        tables = [table.qualified_name for table in parse([sql]).in_tables]
    except Exception:
        log.debug("No SQL lineage for connection %r", conn_id, exc_info=True)
        return []
    return warehouse_tables(conn_id, tables)


def operator_lineage(
    inputs: Iterable[DatasetId],
    outputs: Iterable[DatasetId],
    *,
    facet_key: str | None = None,
    counts: Mapping[str, Any] | None = None,
) -> Any | None:
    """An ``OperatorLineage`` of these datasets, or None without the OpenLineage provider.

    ``counts`` (a task's summary: counts and period bounds, never personal data) becomes the
    run facet ``facet_key`` (``altcraft_batch`` ...), an attrs class with exactly its fields.
    """
    try:
        import attrs
        from airflow.providers.common.compat.openlineage.facet import Dataset, RunFacet
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    run_facets: dict[str, Any] = {}
    if facet_key is not None and counts is not None:
        facet_class = attrs.make_class(
            "".join(part.title() for part in facet_key.split("_")) + "RunFacet",
            {name: attrs.field(default=None) for name in counts},
            bases=(RunFacet,),
        )
        run_facets[facet_key] = facet_class(**counts)
    return OperatorLineage(
        inputs=[Dataset(namespace=item.namespace, name=item.name) for item in inputs],
        outputs=[Dataset(namespace=item.namespace, name=item.name) for item in outputs],
        run_facets=run_facets,
    )
