"""The chunked batch through a real distributed Airflow: CeleryExecutor with two workers,
PostgreSQL metadata DB, Redis broker, the real scheduler, dag-processor, api-server and
triggerer (scripts/cluster.sh). Needs PostgreSQL and Redis on loopback: skipped without them,
except under CI=true, where their absence fails the test.

1. 10,000 rows in 8 mapped chunks with a WAN-like delay: the run succeeds, chunks ran on both
   workers, the ledger holds every row once, and the sandbox never saw more requests in flight
   than pool slots x per-task concurrency; the deferrable export is seen deferred (in the
   triggerer), then succeeds, and its file matches the ledger.
2. One worker is SIGKILLed (with everything under it) mid-chunk: Airflow notices the missing
   heartbeats, the chunk's next try runs on the other worker, resumes from the shared progress
   record, and the ledger is still exact.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.compat import AIRFLOW_V_3
from tests.distributed import cluster_support as cs

pytestmark = pytest.mark.slow

ROWS = 10_000
CHUNK = 1_250  # 8 chunks
KILL_ROWS = 4_000
KILL_CHUNK = 1_000  # 4 chunks


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the distributed test cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[cs.Cluster, Any]]:
    if not AIRFLOW_V_3:
        pytest.skip("the cluster runs Airflow 3 processes (api-server, dag-processor)")
    missing = cs.services_missing()
    if missing:
        _unavailable(missing)
    work = tmp_path_factory.mktemp("cluster")
    with cs.instrumented_sandbox() as (sandbox, _counter):
        cluster = cs.Cluster(work, sandbox.url)
        try:
            cluster.start()
            cluster.wait_for_dag()
            yield cluster, sandbox
        finally:
            cluster.stop()


def test_chunks_share_two_workers_within_the_pool_and_export_defers(
    cluster: tuple[cs.Cluster, Any], tmp_path: Path
) -> None:
    airflow, sandbox = cluster
    rows_file = cs.write_rows(tmp_path / "rows.csv", ROWS, "a")
    sandbox.set_faults([cs.DELAY_RULE])
    cs.inflight(sandbox.url, reset=True)

    run_id = airflow.trigger(
        {"rows_file": str(rows_file), "chunk_size": CHUNK, "results_dir": str(tmp_path / "out")}
    )
    state, export_states = airflow.wait_for_run(run_id, timeout=420)

    tis = airflow.task_instances(run_id)
    chunks = [ti for ti in tis if ti["task_id"] == "redeem_chunk"]
    assert state == "success", _states(tis)
    assert len(chunks) == ROWS // CHUNK
    assert {ti["hostname"] for ti in chunks} == {"worker1", "worker2"}
    assert all(ti["pool"] == "altcraft_api" for ti in chunks)
    eids = cs.ledger_eids(sandbox)
    assert {cs.row_eid(f"a-{n}") for n in range(ROWS)} <= set(eids)
    assert all(count == 1 for count in eids.values())
    peak = cs.inflight(sandbox.url)["peak"]
    assert 0 < peak <= cs.POOL_SLOTS * cs.CONCURRENCY
    assert "deferred" in export_states
    export = airflow.xcom(run_id, "export_transactions")
    exported, in_ledger = cs.export_matches_ledger(Path(export["path"]), sandbox)
    assert exported == in_ledger >= ROWS + cs.MEMBERS  # with the openings


def test_a_worker_killed_mid_chunk_is_noticed_and_the_chunk_resumes_on_the_other(
    cluster: tuple[cs.Cluster, Any], tmp_path: Path
) -> None:
    airflow, sandbox = cluster
    rows_file = cs.write_rows(tmp_path / "rows.csv", KILL_ROWS, "k")
    out = tmp_path / "out"
    sandbox.set_faults([cs.DELAY_RULE])
    before = cs.ledger_eids(sandbox)
    cs.inflight(sandbox.url, reset=True)
    run_id = airflow.trigger(
        {"rows_file": str(rows_file), "chunk_size": KILL_CHUNK, "results_dir": str(out)}
    )
    killed: dict[str, Any] = {}

    def kill_worker1_mid_chunk() -> None:
        if killed:
            return
        for ti in airflow.task_instances(run_id):
            if ti["task_id"] != "redeem_chunk" or ti["state"] != "running":
                continue
            if ti["hostname"] != "worker1":
                continue
            record = out / run_id / f"chunk_{ti['map_index']}.csv.progress"
            if _result_lines(record) >= 200:
                airflow.run("kill-worker", "1")
                killed.update(map_index=ti["map_index"], at=time.monotonic(),
                              recorded=_result_lines(record))  # fmt: skip
                return

    state, _ = airflow.wait_for_run(run_id, timeout=420, watch=kill_worker1_mid_chunk)

    tis = airflow.task_instances(run_id)
    assert killed, f"no chunk ran on worker1 long enough to be killed: {_states(tis)}"
    assert state == "success", _states(tis)
    victim = next(
        ti
        for ti in tis
        if ti["task_id"] == "redeem_chunk" and ti["map_index"] == killed["map_index"]
    )
    assert victim["try_number"] >= 2 and victim["hostname"] == "worker2"
    earlier = airflow.tries(run_id, "redeem_chunk", killed["map_index"])
    assert any(
        t["hostname"] == "worker1" for t in earlier if t["try_number"] < victim["try_number"]
    )
    summary = airflow.xcom(run_id, "redeem_chunk", killed["map_index"])
    assert summary["already_present"] >= killed["recorded"]  # resumed, not re-sent
    eids = cs.ledger_eids(sandbox)
    assert {cs.row_eid(f"k-{n}") for n in range(KILL_ROWS)} <= set(eids)
    assert all(count == 1 for count in eids.values())
    assert len(eids) == len(before) + KILL_ROWS
    # The retry's lookups stay within its task's concurrency too.
    assert cs.inflight(sandbox.url)["peak"] <= cs.POOL_SLOTS * cs.CONCURRENCY


def _result_lines(path: Path) -> int:
    try:
        with open(path, "rb") as data:
            return sum(1 for line in data if line.startswith(b'{"r"'))
    except FileNotFoundError:
        return 0


def _states(tis: list[dict[str, Any]]) -> list[tuple[str, int, str, str]]:
    return [(t["task_id"], t["map_index"], t["state"], t["hostname"]) for t in tis]
