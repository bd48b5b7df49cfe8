"""Drive the real distributed Airflow of scripts/cluster.sh: start/stop it, trigger the example
DAG through the REST API, read task instances, and an instrumented sandbox whose in-flight
request count the tests compare with the pool.

Also the measurements of docs/distributed.md (own cluster and sandbox)::

    .venv/bin/python -m tests.distributed.cluster_support measure
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO / "scripts" / "cluster.sh"
DAG_ID = "altcraft_batch_distributed"
TOKEN = "cluster-token-9d3f1a7c"
API_PORT = int(os.environ.get("ALTCRAFT_TEST_CLUSTER_API_PORT", "28090"))
POOL_SLOTS = 3
CONCURRENCY = 4  # the example DAG's per-task concurrency
MEMBERS = 200
DELAY_RULE = {"kind": "delay", "rate": 1.0, "delay_ms": 25}


def seed() -> dict[str, Any]:
    return {
        "programs": [{"id": 1, "currencies": [{"iid": 1, "eid": "stars", "default": True}]}],
        "profiles": [
            {"profile_id": f"c-{i}", "email": f"c{i}@example.com"} for i in range(MEMBERS)
        ],
        "members": [
            {"program_id": 1, "profile_id": f"c-{i}", "balances": {"stars": "100000000"}}
            for i in range(MEMBERS)
        ],
    }


def write_rows(path: Path, count: int, prefix: str) -> Path:
    """The example DAG's columns: order_id (the row key), customer_email, points."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "customer_email", "points"])
        for n in range(count):
            writer.writerow([f"{prefix}-{n}", f"c{n % MEMBERS}@example.com", "1.25"])
    return path


def row_eid(order_id: str) -> str:
    """The eid the batch derives from a row key (dag_id, task_id, key)."""
    from airflow_provider_altcraft.operators.base import TRANSACTION_EID_NAMESPACE

    return str(uuid.uuid5(TRANSACTION_EID_NAMESPACE, f"{DAG_ID}\nredeem_chunk\nrow\n{order_id}"))


# -- the sandbox, with its in-flight counter ------------------------------------------------------


@contextmanager
def instrumented_sandbox() -> Iterator[tuple[Any, Any]]:
    """A sandbox in this process, counting requests in flight; yields (handle, counter)."""
    from airflow_provider_altcraft.sandbox.app import SandboxApp
    from airflow_provider_altcraft.sandbox.inflight import instrument
    from airflow_provider_altcraft.sandbox.server import SandboxServer
    from airflow_provider_altcraft.sandbox.testing import SandboxHandle

    app = SandboxApp(token=TOKEN, seed=seed())
    counter = instrument(app)
    server = SandboxServer(app, host="127.0.0.1", port=0)
    server.start_in_thread(30.0)
    try:
        yield SandboxHandle(server.url, TOKEN), counter
    finally:
        server.stop_thread()


def inflight(url: str, reset: bool = False) -> dict[str, int]:
    if reset:
        return dict(requests.post(f"{url}/_sandbox/inflight/reset", timeout=10).json())
    return dict(requests.get(f"{url}/_sandbox/inflight", timeout=10).json())


# -- the cluster --------------------------------------------------------------------------------


def services_missing() -> str | None:
    """Why the cluster cannot run here (None: it can)."""
    import socket

    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            return f"{name} is not reachable on 127.0.0.1:{port}"
    for tool in ("setsid", "curl"):
        if subprocess.run(["which", tool], capture_output=True, check=False).returncode:
            return f"{tool} is not installed"
    return None


def _dags_folder(workdir: Path) -> Path:
    import shutil

    folder = workdir / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dags_examples" / f"{DAG_ID}.py", folder)
    return folder


class Cluster:
    def __init__(self, workdir: Path, sandbox_url: str, pool_slots: int = POOL_SLOTS) -> None:
        self.workdir = workdir
        self.api = f"http://127.0.0.1:{API_PORT}/api/v2"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        self.env.update(
            {
                "VENV": str(Path(sys.executable).parent.parent),
                "CLUSTER_DIR": str(workdir / "cluster"),
                "CLUSTER_DB": "altcraft_airflow_cluster_test",
                "CLUSTER_REDIS_DB": "6",
                "CLUSTER_API_PORT": str(API_PORT),
                "CLUSTER_POOL_SLOTS": str(pool_slots),
                "CLUSTER_WORKER_CONCURRENCY": "2",
                # Only this DAG: the other examples would share the sandbox and the workers.
                "CLUSTER_DAGS_FOLDER": str(_dags_folder(workdir)),
                "AIRFLOW_CONN_ALTCRAFT_DEFAULT": json.dumps(
                    {
                        "conn_type": "altcraft",
                        "host": sandbox_url,
                        "password": TOKEN,
                        "extra": {"backoff_base": 0.05, "backoff_max": 0.5, "timeout": 10},
                    }
                ),
            }
        )

    def run(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [str(CLUSTER_SH), *args], env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"cluster.sh {' '.join(args)} failed:\n{done.stderr[-4000:]}")
        return done.stderr

    def start(self) -> None:
        self.run("start")

    def stop(self) -> None:
        self.run("stop", timeout=120)

    def logs(self) -> Path:
        return self.workdir / "cluster" / "logs"

    # REST API ------------------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        answer = requests.get(f"{self.api}{path}", params=params, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def wait_for_dag(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = requests.get(f"{self.api}/dags/{DAG_ID}", timeout=30)
            if answer.status_code == 200:
                unpause = requests.patch(
                    f"{self.api}/dags/{DAG_ID}", json={"is_paused": False}, timeout=30
                )
                unpause.raise_for_status()
                return
            time.sleep(1)
        raise TimeoutError(f"{DAG_ID} was not parsed within {timeout} s")

    def trigger(self, conf: dict[str, Any]) -> str:
        answer = requests.post(
            f"{self.api}/dags/{DAG_ID}/dagRuns",
            json={"logical_date": None, "conf": conf},
            timeout=30,
        )
        answer.raise_for_status()
        return str(answer.json()["dag_run_id"])

    def run_state(self, run_id: str) -> str:
        return str(self.get(f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"])

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        found = self.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", limit=1000)
        return list(found["task_instances"])

    def tries(self, run_id: str, task_id: str, map_index: int) -> list[dict[str, Any]]:
        path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries"
        return list(self.get(path)["task_instances"])

    def xcom(self, run_id: str, task_id: str, map_index: int = -1) -> Any:
        path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.get(path, map_index=map_index, deserialize=True)["value"]

    def wait_for_run(
        self, run_id: str, timeout: float = 300, watch: Any = None
    ) -> tuple[str, set[str]]:
        """Wait for the run to end; returns its state and every export state seen."""
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ti in self.task_instances(run_id):
                if ti["task_id"] == "export_transactions" and ti["state"]:
                    seen.add(ti["state"])
            if watch is not None:
                watch()
            state = self.run_state(run_id)
            if state in ("success", "failed"):
                return state, seen
            time.sleep(0.5)
        raise TimeoutError(f"run {run_id} did not end within {timeout} s")


def chunk_summaries(cluster: Cluster, run_id: str) -> list[dict[str, Any]]:
    return [ti for ti in cluster.task_instances(run_id) if ti["task_id"] == "redeem_chunk"]


def ledger_eids(sandbox: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for transaction in sandbox.ledger()["transactions"]:
        eid = transaction.get("transaction_eid")
        if eid:
            counts[eid] = counts.get(eid, 0) + 1
    return counts


def export_matches_ledger(path: Path, sandbox: Any) -> tuple[int, int]:
    """(rows in the export file, transactions in the ledger): the ids must be the same set;
    raises AssertionError naming the difference."""
    with open(path, newline="", encoding="utf-8") as data:
        exported = list(csv.DictReader(data))
    # The seed has one program and one currency: every transaction, openings included.
    ledger = list(sandbox.ledger()["transactions"])
    id_column = next(c for c in ("transaction_id", "id") if exported and c in exported[0])
    file_ids = {str(row[id_column]) for row in exported}
    ledger_ids = {str(t["transaction_id"]) for t in ledger}
    missing, extra = ledger_ids - file_ids, file_ids - ledger_ids
    assert not missing and not extra, f"export differs: {len(missing)} missing, {len(extra)} extra"
    return len(exported), len(ledger)


def measure() -> None:
    """Rows/s of the chunked run on 2 workers then 1, with the WAN delay; scheduler overhead."""
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="altcraft-cluster-measure-"))
    figures: dict[str, Any] = {}
    with instrumented_sandbox() as (sandbox, _counter):
        # Four slots: one worker (2 task slots) cannot fill them, two can.
        cluster = Cluster(work, sandbox.url, pool_slots=4)
        t0 = time.monotonic()
        cluster.start()
        figures["cluster_start_sec"] = round(time.monotonic() - t0, 1)
        try:
            cluster.wait_for_dag()
            for workers in (2, 1):
                if workers == 1:
                    cluster.run("kill-worker", "2")
                rows = 10_000
                sandbox.set_faults([DELAY_RULE])
                path = write_rows(work / f"rows_{workers}.csv", rows, f"m{workers}")
                started = time.monotonic()
                run_id = cluster.trigger(
                    {"rows_file": str(path), "chunk_size": 1250, "results_dir": str(work / "out")}
                )
                state, _ = cluster.wait_for_run(run_id, timeout=900)
                wall = time.monotonic() - started
                tis = [t for t in cluster.task_instances(run_id) if t["task_id"] == "redeem_chunk"]
                send_sec = sum(
                    cluster.xcom(run_id, "redeem_chunk", t["map_index"])["duration_sec"]
                    for t in tis
                )
                chunk_wall = _span(tis)
                figures[f"{workers}_workers"] = {
                    "state": state,
                    "rows": rows,
                    "chunks": len(tis),
                    "run_wall_sec": round(wall, 1),
                    "chunks_wall_sec": round(chunk_wall, 1),
                    "rows_per_sec_chunks": round(rows / chunk_wall),
                    "rows_per_sec_run": round(rows / wall),
                    "hosts": sorted({t["hostname"] for t in tis}),
                    "slot_sec_not_sending_per_chunk": round(
                        (chunk_wall * min(4, 2 * workers) - send_sec) / len(tis), 2
                    ),
                }
                print(json.dumps(figures), flush=True)
        finally:
            cluster.stop()
    print(json.dumps(figures, indent=2))


def _span(tis: list[dict[str, Any]]) -> float:
    from datetime import datetime

    def at(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    return max(at(t["end_date"]) for t in tis) - min(at(t["start_date"]) for t in tis)


if __name__ == "__main__":
    if sys.argv[1:] == ["measure"]:
        measure()
    else:
        print(__doc__)
