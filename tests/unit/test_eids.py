"""Golden values of the transaction eid rules: fixed forever.

These strings were computed by the code as it was before the rules moved to
``airflow_provider_altcraft/eids.py``. If one of them changes, a retry of a task (or a batch
row) started before the change would get another eid and send its money again: do not update
them, fix the change.
"""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_altcraft import eids
from airflow_provider_altcraft.batch.rows import RowSpec, position_namespace
from airflow_provider_altcraft.operators.base import (
    TRANSACTION_EID_NAMESPACE,
    derive_transaction_eid,
)

RUN_ID = "manual__2024-09-01T06:30:15+00:00"

#: (dag_id, task_id, run_id, map_index) -> the single operator's derived eid.
TASK_INSTANCE_EIDS = [
    (("loyalty", "redeem", RUN_ID, -1), "696986b8-aac9-50d9-867d-9a8a9f4ae1ac"),
    (("loyalty", "redeem", RUN_ID, 0), "baaa18aa-d8ae-5e0a-bc6d-9c9353218912"),
    (("d", "t", "scheduled__2024-01-01T00:00:00+00:00", 7), "3aa6647e-e9f3-599d-a897-0b78b5afe4f8"),
    (("даг", "задача", "run", 3), "101f1656-678e-5594-851b-d2ebfaa5f465"),
]
#: The position namespace of the batch task instance ("batch_dag", "batch_task", RUN_ID, -1).
POSITION_NAMESPACE = "e750c5c2-bf49-542c-92d6-b71682b85352"
#: Row key -> eid, for the task ("batch_dag", "batch_task").
ROW_KEY_EIDS = [
    ("order-1", "a3a4a4f7-1faa-5d7b-ad14-1473d55f7db0"),
    ("A-42", "61eda6ec-1a2e-5f67-85c4-2eb8a9649e7a"),
    ("заказ 7", "6ae5c0ba-f82b-5dfc-9850-f55e1e67d888"),
]
#: Row number -> eid, in that task instance's position namespace.
POSITION_EIDS = [
    (1, "04cc3dae-ca72-5730-93d4-e68acd404fc2"),
    (2, "06c64aa2-a579-5aa0-9ea5-78d6d809b606"),
    (1000, "55418d15-efc7-529e-b1c4-d7386a496e6e"),
]


def test_the_namespace_never_changes() -> None:
    assert str(eids.TRANSACTION_EID_NAMESPACE) == "5b0f3c52-8a43-4a3c-9d51-6f1f0c6b2a11"
    assert TRANSACTION_EID_NAMESPACE is eids.TRANSACTION_EID_NAMESPACE  # old path re-exports


@pytest.mark.parametrize(("task_instance", "expected"), TASK_INSTANCE_EIDS)
def test_task_instance_eid(task_instance: tuple[str, str, str, int], expected: str) -> None:
    assert eids.derive_transaction_eid(*task_instance) == expected
    assert derive_transaction_eid(*task_instance) == expected  # old path


def test_position_namespace() -> None:
    task_instance = ("batch_dag", "batch_task", RUN_ID, -1)
    assert str(eids.position_namespace(*task_instance)) == POSITION_NAMESPACE
    assert str(position_namespace(*task_instance)) == POSITION_NAMESPACE  # old path


@pytest.mark.parametrize(("row_key", "expected"), ROW_KEY_EIDS)
def test_row_key_eid(row_key: str, expected: str) -> None:
    scope = eids.row_key_scope("batch_dag", "batch_task")
    assert scope == "batch_dag\nbatch_task"
    assert eids.row_key_eid(scope, row_key) == expected


@pytest.mark.parametrize(("row_number", "expected"), POSITION_EIDS)
def test_position_eid(row_number: int, expected: str) -> None:
    assert eids.position_eid(uuid.UUID(POSITION_NAMESPACE), row_number) == expected


def test_row_eid_takes_the_given_eid_then_the_key_then_the_position() -> None:
    namespace = uuid.UUID(POSITION_NAMESPACE)
    rules = {"key_scope": "batch_dag\nbatch_task", "namespace": namespace, "row_number": 2}
    assert eids.row_eid("given-1", "order-1", **rules) == "given-1"
    assert eids.row_eid(12345, None, **rules) == "12345"  # a JSON or SQL number
    assert eids.row_eid(True, None, **rules) is True  # not a number: refused by validation
    assert eids.row_eid(None, "order-1", **rules) == ROW_KEY_EIDS[0][1]
    assert eids.row_eid(None, None, **rules) == POSITION_EIDS[1][1]


def _row_spec(row_key_column: str | None) -> RowSpec:
    return RowSpec(
        operation="redeem",
        constants={"loyalty_program_id": 1, "points_currency_eid": "stars"},
        column_mapping={},
        row_key_column=row_key_column,
        key_scope="batch_dag\nbatch_task",
        position_namespace=uuid.UUID(POSITION_NAMESPACE),
    )


@pytest.mark.parametrize(("row_key", "expected"), ROW_KEY_EIDS)
def test_a_keyed_batch_row_is_sent_with_its_golden_eid(row_key: str, expected: str) -> None:
    row = {"email": "ann@example.com", "amount": "10", "order_id": row_key}
    prepared = _row_spec("order_id").prepare(1, row)
    assert not isinstance(prepared, list)
    assert prepared.request.transaction_eid == expected
    assert prepared.eid_may_exist


@pytest.mark.parametrize(("row_number", "expected"), POSITION_EIDS)
def test_a_batch_row_without_key_is_sent_with_its_golden_eid(
    row_number: int, expected: str
) -> None:
    prepared = _row_spec(None).prepare(row_number, {"email": "ann@example.com", "amount": "10"})
    assert not isinstance(prepared, list)
    assert prepared.request.transaction_eid == expected
    assert not prepared.eid_may_exist


def test_a_given_batch_eid_wins() -> None:
    for given, sent in (("given-1", "given-1"), (12345, "12345")):
        row = {"email": "ann@example.com", "amount": "10", "transaction_eid": given}
        prepared = _row_spec("order_id").prepare(5, {**row, "order_id": "order-1"})
        assert not isinstance(prepared, list)
        assert prepared.request.transaction_eid == sent
        assert prepared.eid_may_exist
