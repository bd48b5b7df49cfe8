"""The metrics as an OpenTelemetry collector receives them: Airflow configured with
``[metrics] otel_on`` (in a subprocess's environment), an OTLP/HTTP endpoint on 127.0.0.1 that
decodes what Airflow's exporter posts (the protobuf classes ship with Airflow), a real DAG run
of the single operators against the sandbox. The exporter flushes when the process exits.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.compat import AIRFLOW_V_3
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.metrics.support import ACCRUE, DELAY_MS, personal_values, prepare, run_metrics_dag
from tests.needs import import_or_skip

metrics_service = import_or_skip(
    "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2",
    reason="Airflow's OpenTelemetry metrics need the OTLP protobuf classes",
)


@dataclass(frozen=True)
class Point:
    name: str
    kind: str  # sum, gauge, histogram, exponential_histogram
    attributes: dict[str, str]
    value: float  # a sum's or gauge's value; a histogram's max


class Collector(BaseHTTPRequestHandler):
    """OTLP/HTTP ``/v1/metrics``: every data point of every export, in arrival order."""

    points: list[Point]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = metrics_service.ExportMetricsServiceRequest.FromString(body)
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    self.points.extend(_points(metric))
        answer = metrics_service.ExportMetricsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def _points(metric: Any) -> Iterator[Point]:
    kind = metric.WhichOneof("data")
    for point in getattr(metric, kind).data_points:
        attributes = {kv.key: kv.value.string_value for kv in point.attributes}
        if kind in ("sum", "gauge"):
            value = point.as_double if point.WhichOneof("value") == "as_double" else point.as_int
        else:
            value = point.max
        yield Point(metric.name, kind, attributes, float(value))


@pytest.fixture
def collector() -> Iterator[tuple[ThreadingHTTPServer, list[Point]]]:
    points: list[Point] = []
    handler = type("Handler", (Collector,), {"points": points})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, points
    server.shutdown()
    server.server_close()


def last(points: list[Point], name: str, **attributes: str) -> Point:
    """The last exported point of ``name`` with these attributes (sums are cumulative)."""
    found = [p for p in points if p.name == name and p.attributes == attributes]
    assert found, (name, attributes, sorted({(p.name, str(p.attributes)) for p in points}))
    return found[-1]


def test_opentelemetry_receives_the_metrics_with_their_tags(
    sandbox: SandboxHandle,
    airflow_db: Path,
    collector: tuple[ThreadingHTTPServer, list[Point]],
    tmp_path: Path,
) -> None:
    server, points = collector
    prepare(sandbox)

    run = run_metrics_dag(
        tmp_path,
        {
            "otel_on": "True",
            "otel_host": "127.0.0.1",
            "otel_port": str(server.server_address[1]),
            "otel_prefix": "airflow",
            "otel_ssl_active": "False",
            # Airflow 2.11 sends timers in seconds unless told otherwise (3.x: milliseconds).
            **({} if AIRFLOW_V_3 else {"timer_unit_consistency": "True"}),
        },
    )

    ours = [p for p in points if p.name.startswith("airflow.altcraft.")]
    redeem = "loyalty/redeeme_points"
    assert last(ours, "airflow.altcraft.points.redeemed", outcome="sent").value == 1
    assert last(ours, "airflow.altcraft.points.accrued", outcome="sent").value == 1
    assert last(ours, "airflow.altcraft.points.amount_accrued").value == 5.25
    assert last(ours, "airflow.altcraft.transaction.committed").value == 1
    failed = last(
        ours, "airflow.altcraft.points.failed", operation="redeem", error="AltcraftApiError"
    )
    assert failed.value == 1
    assert last(ours, "airflow.altcraft.request.count", endpoint=redeem, outcome="retry").value == 1
    assert last(ours, "airflow.altcraft.request.count", endpoint=redeem, outcome="ok").value == 1
    assert (
        last(ours, "airflow.altcraft.request.throttled", endpoint=redeem, status="429").value == 1
    )
    durations = [p for p in ours if p.name == "airflow.altcraft.request.duration"]
    if AIRFLOW_V_3:
        # A histogram per endpoint and outcome, in milliseconds: the accrual the sandbox
        # delayed by DELAY_MS.
        accrual = last(durations, durations[0].name, endpoint=ACCRUE, outcome="ok")
        assert accrual.kind in ("histogram", "exponential_histogram")
        assert DELAY_MS <= accrual.value < 10 * DELAY_MS
    else:
        # Airflow 2.11 sends a timer as an observable gauge created once per name: only the
        # first tag set it saw is exported (docs/metrics.md says so).
        assert {p.kind for p in durations} == {"gauge"}
        assert len({str(p.attributes) for p in durations}) == 1
        assert all(p.value > 0 for p in durations)
    # Tags name endpoints and outcomes, never a member, a transaction or the connection.
    secrets = personal_values(run)
    for point in ours:
        text = " ".join([point.name, *point.attributes, *point.attributes.values()])
        assert "@" not in text
        assert not [secret for secret in secrets if secret in text], point
