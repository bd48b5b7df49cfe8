"""The sandbox's count of API requests in flight (``/_sandbox/inflight``): what the distributed
test compares with pool slots x per-task concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.distributed import cluster_support as cs


def _balance(url: str) -> int:
    body = {
        "token": cs.TOKEN,
        "loyalty_program_id": 1,
        "matching": "email",
        "email": "c1@example.com",
        "points_currency_eid": "stars",
    }
    return requests.post(
        f"{url}/api/v1.1/loyalty/account/balance", json=body, timeout=10
    ).status_code


def test_peak_counts_requests_answered_at_once_and_resets() -> None:
    with cs.instrumented_sandbox() as (sandbox, _counter):
        sandbox.set_faults([{"kind": "delay", "rate": 1.0, "delay_ms": 1000}])
        assert cs.inflight(sandbox.url) == {"current": 0, "peak": 0, "total": 0}

        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(lambda _: _balance(sandbox.url), range(6)))

        assert statuses == [200] * 6
        assert cs.inflight(sandbox.url) == {"current": 0, "peak": 6, "total": 6}
        assert cs.inflight(sandbox.url, reset=True) == {"current": 0, "peak": 0, "total": 0}
        sandbox.clear_faults()
        for _ in range(3):
            _balance(sandbox.url)  # answered at once, one after the other
        assert cs.inflight(sandbox.url) == {"current": 0, "peak": 1, "total": 3}
        # Control calls are not API requests.
        sandbox.ledger()
        assert cs.inflight(sandbox.url)["total"] == 3


def test_the_standalone_sandbox_answers_inflight() -> None:
    """Wired into the app itself: the ``altcraft-sandbox`` process answers it too."""
    from airflow_provider_altcraft.sandbox import run_sandbox

    with run_sandbox(token=cs.TOKEN, seed=cs.seed()) as sandbox:
        assert _balance(sandbox.url) == 200
        assert cs.inflight(sandbox.url) == {"current": 0, "peak": 1, "total": 1}
        assert cs.inflight(sandbox.url, reset=True)["total"] == 0
