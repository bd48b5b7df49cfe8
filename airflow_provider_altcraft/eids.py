"""The transaction eid rules, in one place: which ``transaction_eid`` a request is sent with.

Exactly-once sending rests on these eids: a retry (of a task, of a batch row, of a whole run)
must compute the very same eid, so Altcraft's copy is found instead of sending again. Their
outputs are fixed forever (``tests/unit/test_eids.py`` pins them): changing a namespace, a
separator or the order of the parts would make a retry of a task started before the change
send its money again.

1. **Given**: an eid the DAG author (operator argument) or the input (a row's
   ``transaction_eid`` column) gives is used as is (a JSON or SQL number as its text).
2. **Row key**: a batch row with a row key gets ``uuid5(NS, "<dag_id>\\n<task_id>\\nrow\\n<key>")``
   (any DAG run of the same task finds it: a re-run backfill sends nothing twice).
3. **Position**: otherwise, a single operator's task instance gets
   ``uuid5(NS, "<dag_id>\\n<task_id>\\n<run_id>\\n<map_index>")``, and a batch row without a
   key ``uuid5(<that task instance's eid as a namespace>, "<row number>")``.

Only the standard library is imported: operators use this at DAG parse time.
"""

from __future__ import annotations

import uuid

__all__ = [
    "TRANSACTION_EID_NAMESPACE",
    "derive_transaction_eid",
    "given_eid",
    "position_eid",
    "position_namespace",
    "row_eid",
    "row_key_eid",
    "row_key_scope",
]

#: Namespace of the deterministic transaction eids (uuid5), fixed forever: changing it would
#: make retries of tasks started before the change send their transactions again.
TRANSACTION_EID_NAMESPACE = uuid.UUID("5b0f3c52-8a43-4a3c-9d51-6f1f0c6b2a11")


def derive_transaction_eid(dag_id: str, task_id: str, run_id: str, map_index: int) -> str:
    """The eid of a task instance's transaction: the same for every retry of that instance
    (``map_index`` is -1 for a task that is not mapped)."""
    return str(uuid.uuid5(TRANSACTION_EID_NAMESPACE, f"{dag_id}\n{task_id}\n{run_id}\n{map_index}"))


def given_eid(value: object) -> object:
    """A given eid as it is sent: an int (a JSON or SQL number) as its text; anything else
    unchanged (the request's validation checks it is a string without control characters)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def row_key_scope(dag_id: str, task_id: str) -> str:
    """What makes row-key eids unique: the task (``dag_id``, ``task_id``), not the run."""
    return f"{dag_id}\n{task_id}"


def row_key_eid(key_scope: str, row_key: str) -> str:
    """The eid of a batch row identified by its key (``key_scope`` from :func:`row_key_scope`)."""
    return str(uuid.uuid5(TRANSACTION_EID_NAMESPACE, f"{key_scope}\nrow\n{row_key}"))


def position_namespace(dag_id: str, task_id: str, run_id: str, map_index: int) -> uuid.UUID:
    """The namespace of a task instance's position-derived row eids (stable across retries)."""
    return uuid.UUID(derive_transaction_eid(dag_id, task_id, run_id, map_index))


def position_eid(namespace: uuid.UUID, row_number: int) -> str:
    """The eid of a batch row identified by its (1-based) row number in the whole input."""
    return str(uuid.uuid5(namespace, str(row_number)))


def row_eid(
    given: object,
    row_key: str | None,
    *,
    key_scope: str,
    namespace: uuid.UUID,
    row_number: int,
) -> object:
    """A batch row's eid by the three rules: the given one, else its key's, else its
    position's."""
    if given is not None:
        return given_eid(given)
    if row_key is not None:
        return row_key_eid(key_scope, row_key)
    return position_eid(namespace, row_number)
