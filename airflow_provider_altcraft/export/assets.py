"""The file an export or reconcile task writes, as an Airflow Asset (a Dataset on 2.x).

Each task declares one outlet Asset, so a DAG scheduled on it runs when the file is ready:

- the ``output_asset`` / ``report_asset`` argument, when given (an ``Asset`` or its URI);
- else, when the path is static, the file itself: ``file:///abs/path.csv``, or the object's
  URI without the connection part (``s3://bucket/key.csv``), named as OpenLineage names it
  (:func:`airflow_provider_altcraft.lineage.file_dataset`);
- else (a templated path, one file per run) the task: ``altcraft://<kind>/<dag_id>/<task_id>``
  (:func:`task_asset`), which a consumer DAG can name at parse time.

Each asset event carries the rendered path, the period and the counts in its ``extra``
(:func:`record_event`): never a member, an eid or an amount of one person.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_altcraft import lineage
from airflow_provider_altcraft.compat import Asset, Context
from airflow_provider_altcraft.exceptions import AltcraftValidationError

__all__ = ["EXPORT_KIND", "RECONCILE_KIND", "outlet_asset", "record_event", "task_asset"]

#: The ``<kind>`` part of a task's default asset URI.
EXPORT_KIND = "exports"
RECONCILE_KIND = "reconcile-reports"


def task_asset(kind: str, dag_id: str, task_id: str) -> Asset:
    """The default asset of a task whose path is templated:
    ``altcraft://<kind>/<dag_id>/<task_id>`` (``kind``: ``exports`` or ``reconcile-reports``)."""
    return Asset(uri=f"altcraft://{kind}/{dag_id}/{task_id}")


def outlet_asset(
    given: object,
    parameter: str,
    *,
    path: object,
    path_is_static: bool,
    kind: str,
    dag_id: str | None,
    task_id: str,
) -> Asset | None:
    """The asset a task declares for the file it writes (see the module's docstring). None
    when there is nothing to name: a templated path on a task outside any DAG."""
    if isinstance(given, Asset):
        return given
    if isinstance(given, str) and given.strip():
        try:
            return Asset(uri=given)
        except (TypeError, ValueError) as exc:
            raise AltcraftValidationError(
                parameter, f"{given!r} is not an asset URI ({exc})", _ACCEPTED
            ) from None
    if given is not None:
        raise AltcraftValidationError(
            parameter, f"type {type(given).__name__} is not an asset", _ACCEPTED
        )
    if path_is_static and path is not None:
        return Asset(uri=lineage.file_dataset(path).uri)
    if dag_id is None:
        return None
    return task_asset(kind, dag_id, task_id)


_ACCEPTED = "pass an Asset (a Dataset on Airflow 2), its URI, or None for the default"


def record_event(context: Context, asset: Asset | None, extra: Mapping[str, Any]) -> None:
    """Put ``extra`` (JSON values, no personal data) on the asset event this task's success
    emits (``outlet_events``: Airflow 3, and 2.10+)."""
    if asset is None:
        return
    events: Any = context.get("outlet_events")
    if events is None:
        return
    events[asset].extra.update(extra)
