"""Run one test DAG in this process (as tests/metrics/run_dag.py does), then flush the
OpenTelemetry metrics before exiting.

Airflow 3 flushes them itself at exit; Airflow 2.11 exports only every ``[metrics]
otel_interval_milliseconds`` and drops what is left when a short process exits, so a test
run of a few seconds would send nothing there. The flush is the export a longer-lived worker
makes at its next interval.

    python -m tests.batch.run_dag_flushed <dags module> <dag id> <output.json>
"""

from __future__ import annotations

from tests.metrics.run_dag import main

if __name__ == "__main__":
    try:
        main()
    finally:
        from opentelemetry import metrics

        flush = getattr(metrics.get_meter_provider(), "force_flush", None)
        if flush is not None:
            flush()
