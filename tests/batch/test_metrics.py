"""The batch's metrics as a metrics server receives them, from a real DAG run against the
sandbox: Airflow's metrics turned on in a subprocess's environment (Airflow picks its backend
once per process), a server on 127.0.0.1 listening.

Two backends, as Airflow ships them:

* StatsD (UDP): needs the ``statsd`` package (``apache-airflow[statsd]``); skipped without it,
  as Airflow itself then sends nothing.
* OpenTelemetry (OTLP over HTTP, protobuf): the ``opentelemetry`` packages come with Airflow;
  the server below decodes each export with the OTLP protobuf classes. The run's process
  flushes the metrics before it exits (tests/dag_process.py says why).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.batch.conftest import make_rows
from tests.conftest import TOKEN
from tests.dag_process import run_in_subprocess
from tests.dagrun import copy_dag_file, dags_dir
from tests.needs import import_or_skip

ROWS = 30


def run_batch(tmp_path: Path, dag_id: str, metrics_env: dict[str, str]) -> dict[str, Any]:
    """Run tests/dags/batch_operator.py (30 rows, the first one invalid and skipped) in a
    subprocess with ``metrics_env``; the run's task states and XComs."""
    rows = make_rows(ROWS)
    rows[0]["amount"] = "1.234"  # one invalid row, skipped
    spec = {
        "dag_id": dag_id,
        "operator": "Redeem",
        "retries": 0,
        "arguments": {"rows": rows, "invalid_rows": "skip"},
    }
    copy_dag_file("batch_operator", dags_dir(), spec)
    run = run_in_subprocess(tmp_path, "batch_operator", dag_id, metrics_env)
    assert run["tasks"] == {"batch": "success"}
    return run


# -- StatsD ---------------------------------------------------------------------------------


def test_statsd_receives_the_rows_sent(batch_sandbox: SandboxHandle, tmp_path: Path) -> None:
    import_or_skip("statsd", reason="Airflow's StatsD backend needs the statsd package")
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    try:
        run_batch(
            tmp_path,
            "metrics_batch_statsd",
            {
                "AIRFLOW__METRICS__STATSD_ON": "True",
                "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
                "AIRFLOW__METRICS__STATSD_PORT": str(server.getsockname()[1]),
                "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
            },
        )
        server.settimeout(0.5)
        lines: list[str] = []
        while True:
            try:
                lines += server.recv(65535).decode("utf-8").splitlines()
            except TimeoutError:
                break
    finally:
        server.close()
    assert lines.count(f"airflow.altcraft.batch.rows_sent:{ROWS - 1}|c") == 1
    assert lines.count("airflow.altcraft.batch.rows_invalid:1|c") == 1
    assert any(line.startswith("airflow.altcraft.batch.duration:") for line in lines)
    assert not [line for line in lines if "@" in line or TOKEN in line]


# -- OpenTelemetry --------------------------------------------------------------------------


@pytest.fixture
def otlp_server() -> Iterator[tuple[int, list[bytes]]]:
    """An OTLP/HTTP metrics receiver: the port, and the bodies of the exports it got."""
    bodies: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], bodies
    server.shutdown()
    server.server_close()


def otlp_points(bodies: list[bytes]) -> list[tuple[str, dict[str, str], float]]:
    """Every data point of every export: (metric name, attributes, value; a sum's value, a
    histogram's sum)."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    points: list[tuple[str, dict[str, str], float]] = []
    for body in bodies:
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    for point in getattr(metric, kind).data_points:
                        attributes = {a.key: a.value.string_value for a in point.attributes}
                        if kind in ("sum", "gauge"):
                            value = (
                                point.as_int
                                if point.WhichOneof("value") == "as_int"
                                else point.as_double
                            )
                        else:
                            value = point.sum
                        points.append((metric.name, attributes, float(value)))
    return points


def test_opentelemetry_receives_the_batch_metrics(
    batch_sandbox: SandboxHandle, tmp_path: Path, otlp_server: tuple[int, list[bytes]]
) -> None:
    port, bodies = otlp_server

    run = run_batch(
        tmp_path,
        "metrics_batch_otel",
        {
            "AIRFLOW__METRICS__OTEL_ON": "True",
            "AIRFLOW__METRICS__OTEL_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__OTEL_PORT": str(port),
            "AIRFLOW__METRICS__OTEL_PREFIX": "airflow",
            "AIRFLOW__METRICS__OTEL_INTERVAL_MILLISECONDS": "60000",
        },
    )

    assert run["xcoms"]["batch.return_value"]["sent"] == ROWS - 1
    points = otlp_points(bodies)
    ours = [p for p in points if p[0].startswith("airflow.altcraft.batch.")]
    # Cumulative sums: the last export holds the run's totals.
    last = {(name, tuple(sorted(attributes.items()))): value for name, attributes, value in ours}
    assert last[("airflow.altcraft.batch.rows_sent", (("operation", "redeem"),))] == ROWS - 1
    assert last[("airflow.altcraft.batch.rows_invalid", (("operation", "redeem"),))] == 1
    assert ("airflow.altcraft.batch.rows_failed", (("operation", "redeem"),)) not in last
    redeemed = last[("airflow.altcraft.batch.amount_redeemed", ())]
    assert redeemed == pytest.approx(float(run["xcoms"]["batch.return_value"]["total_redeemed"]))
    assert last[("airflow.altcraft.batch.duration", (("operation", "redeem"),))] > 0
    text = repr(ours)
    assert "@" not in text and TOKEN not in text and "order-" not in text
