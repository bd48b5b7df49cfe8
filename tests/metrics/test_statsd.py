"""The metrics as a StatsD server receives them: Airflow configured with ``[metrics]
statsd_on`` (in a subprocess's environment: Airflow picks its backend once per process), a
UDP socket on 127.0.0.1 as the server, a real DAG run of the single operators against the
sandbox, with one 429 on the first redemption.

Airflow's StatsD backend needs the ``statsd`` package (``apache-airflow[statsd]``); without it
Airflow logs an error and sends nothing, so these tests are skipped.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.metrics.support import DELAY_MS, personal_values, prepare, run_metrics_dag
from tests.needs import import_or_skip

import_or_skip("statsd", reason="Airflow's StatsD backend needs the statsd package")

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
    tmp_path: Path, server: socket.socket, **options: str
) -> tuple[dict[str, Any], list[str]]:
    """Run the DAG with StatsD on, sending to ``server``; its outcome and the packets."""
    run = run_metrics_dag(
        tmp_path,
        {
            "statsd_on": "True",
            "statsd_host": "127.0.0.1",
            "statsd_port": str(server.getsockname()[1]),
            "statsd_prefix": "airflow",
            **options,
        },
    )
    return run, received(server)


def ours(packets: list[str]) -> list[re.Match[str]]:
    matches = [PACKET.match(packet) for packet in packets]
    assert all(matches), [p for p, m in zip(packets, matches, strict=True) if m is None]
    return [m for m in matches if m is not None and m["name"].startswith("airflow.altcraft.")]


def test_statsd_receives_the_operators_and_requests_metrics(
    sandbox: SandboxHandle, airflow_db: Path, statsd_server: socket.socket, tmp_path: Path
) -> None:
    prepare(sandbox)

    _, packets = run_with_metrics(tmp_path, statsd_server)

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
    secrets = personal_values(run)
    for line in lines:
        assert "@" not in line
        assert not [secret for secret in secrets if secret in line], line
