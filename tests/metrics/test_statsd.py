"""The metrics as a StatsD server receives them: Airflow configured with ``[metrics]
statsd_on`` (in a subprocess's environment: Airflow picks its backend once per process), a
UDP socket on 127.0.0.1 as the server, a real DAG run of the single operators against the
sandbox, with one 429 on the first redemption.

Airflow's StatsD backend needs the ``statsd`` package (``apache-airflow[statsd]``); without it
Airflow logs an error and sends nothing, so these tests are skipped.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.conftest import REPO, SEED_PATH, TOKEN

pytest.importorskip("statsd", reason="Airflow's StatsD backend needs the statsd package")

REDEEM = "loyalty/redeeme_points"
ACCRUE = "loyalty/accrue_points"
DELAY_MS = 300
PACKET = re.compile(r"^(?P<name>[^:]+):(?P<value>[^|]+)\|(?P<type>c|g|ms)$")


@pytest.fixture
def statsd_server() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    yield server
    server.close()


def received(server: socket.socket) -> list[str]:
    """Every packet queued on the socket (the sender has exited: nothing more will come)."""
    server.settimeout(0.5)
    packets: list[str] = []
    while True:
        try:
            data = server.recv(65535)
        except TimeoutError:
            return packets
        packets.extend(data.decode("utf-8").splitlines())


def run_with_metrics(
    tmp_path: Path, server: socket.socket, **metrics_options: str
) -> tuple[dict[str, object], list[str]]:
    """Run tests/dags/metrics_operators.py with StatsD on; its outcome and the packets."""
    env = os.environ.copy()
    env.update(
        {
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(server.getsockname()[1]),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
            **{f"AIRFLOW__METRICS__{key.upper()}": value for key, value in metrics_options.items()},
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        }
    )
    output = tmp_path / "run.json"
    process = subprocess.run(
        [sys.executable, "-m", "tests.metrics.run_dag", "metrics_operators", "metrics_operators",
         str(output)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(output.read_text()), received(server)


def prepare(sandbox: SandboxHandle) -> None:
    sandbox.load_seed(SEED_PATH)
    sandbox.reset()
    # One overload answer on the first redemption: a retry and a throttled event; the accrual
    # answered after DELAY_MS, so its duration shows the unit.
    sandbox.set_faults(
        [
            {"kind": "http_429", "methods": [REDEEM], "max_count": 1},
            {"kind": "delay", "methods": [ACCRUE], "delay_ms": DELAY_MS},
        ]
    )


def ours(packets: list[str]) -> list[re.Match[str]]:
    matches = [PACKET.match(packet) for packet in packets]
    assert all(matches), [p for p, m in zip(packets, matches, strict=True) if m is None]
    return [m for m in matches if m is not None and m["name"].startswith("airflow.altcraft.")]


def test_statsd_receives_the_operators_and_requests_metrics(
    sandbox: SandboxHandle, airflow_db: Path, statsd_server: socket.socket, tmp_path: Path
) -> None:
    prepare(sandbox)

    run, packets = run_with_metrics(tmp_path, statsd_server)

    assert run["tasks"] == {
        "hold": "success",
        "commit": "success",
        "commit_again": "failed",
        "accrue": "success",
        "too_much": "failed",
    }
    metrics = ours(packets)
    lines = [m.group(0) for m in metrics]
    assert lines.count("airflow.altcraft.points.redeemed:1|c") == 1
    assert lines.count("airflow.altcraft.points.accrued:1|c") == 1
    assert "airflow.altcraft.points.amount_redeemed:10.0|g" in lines
    assert "airflow.altcraft.points.amount_accrued:5.25|g" in lines
    assert lines.count("airflow.altcraft.transaction.committed:1|c") == 1
    # commit_again (already committed) and too_much (insufficient points) failed.
    assert lines.count("airflow.altcraft.transaction.failed:1|c") == 1
    assert lines.count("airflow.altcraft.points.failed:1|c") == 1
    assert lines.count("airflow.altcraft.request.throttled:1|c") == 1
    assert lines.count("airflow.altcraft.request.retries:1|c") == 1
    # Every HTTP attempt: a duration in milliseconds and a count, one each.
    durations = [
        float(m["value"]) for m in metrics if m["name"] == "airflow.altcraft.request.duration"
    ]
    attempts = lines.count("airflow.altcraft.request.count:1|c")
    api_requests = len(sandbox.requests())
    assert len(durations) == attempts == api_requests
    assert all(m["type"] == "ms" for m in metrics if m["name"].endswith(".duration"))
    # Milliseconds: the delayed accrual took DELAY_MS, far less than DELAY_MS seconds.
    assert min(durations) > 0
    assert DELAY_MS <= max(durations) < 10 * DELAY_MS


def test_statsd_tags_name_endpoints_and_outcomes_never_a_person(
    sandbox: SandboxHandle, airflow_db: Path, statsd_server: socket.socket, tmp_path: Path
) -> None:
    # statsd_influxdb_enabled: Airflow appends the tags to the name (",key=value").
    prepare(sandbox)

    run, packets = run_with_metrics(tmp_path, statsd_server, statsd_influxdb_enabled="True")

    lines = [m.group(0) for m in ours(packets)]
    assert (
        "airflow.altcraft.request.count,endpoint=loyalty/redeeme_points,outcome=retry:1|c" in lines
    )
    assert "airflow.altcraft.request.count,endpoint=loyalty/redeeme_points,outcome=ok:1|c" in lines
    assert (
        "airflow.altcraft.request.count,endpoint=loyalty/redeeme_points,outcome=refused:1|c"
        in lines
    )
    assert (
        "airflow.altcraft.request.throttled,endpoint=loyalty/redeeme_points,status=429:1|c" in lines
    )
    assert "airflow.altcraft.points.redeemed,outcome=sent:1|c" in lines
    assert "airflow.altcraft.points.failed,operation=redeem,error=AltcraftApiError:1|c" in lines
    assert "airflow.altcraft.transaction.failed,action=commit,error=AltcraftApiError:1|c" in lines
    # Nothing that names a member, a transaction or the connection in any packet.
    xcoms = run["xcoms"]
    assert isinstance(xcoms, dict)
    secrets = {TOKEN, "ann@example.com", "+15550000001", "p-1", "p-2"}
    secrets |= {str(value) for key, value in xcoms.items() if key.endswith(("return_value", "eid"))}
    for line in lines:
        assert "@" not in line
        assert not [secret for secret in secrets if secret in line], line
