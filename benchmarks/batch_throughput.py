"""Batch redemption throughput vs naive clients, side by side against one sandbox.

Scenarios (rows/second, median of --rounds; every scenario redeems the same N rows):

* naive: sequential ``requests.post`` (a new connection per row), as a first script would;
* hook, sequential: ``AltcraftHook.send_points_request`` row after row (keep-alive);
* batch: the batch operator's own pipeline (validation pass + ``send_rows`` with
  ``--concurrency`` threads over one hook);
* raw ceiling: the fastest raw concurrent keep-alive Python client (``http.client`` or a
  ``requests.Session`` per thread, ``--concurrency`` threads, pre-built bodies, no checks);
* wrk: the sandbox's own ceiling with a native load generator (skipped if wrk is absent).

First on plain loopback (N = --rows), then with the sandbox adding --delay-ms per request, a
WAN-like latency (N = --delay-rows). Every script run starts its own sandbox subprocess.

    python benchmarks/batch_throughput.py [--rows 5000] [--delay-rows 1000] [--rounds 3]
        [--delay-rounds 1] [--concurrency 16] [--delay-ms 25]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable

import batch_support as support
import requests

from airflow_provider_altcraft.batch_rows import (
    RowSource,
    RowSpec,
    valid_rows,
    validate_rows,
)
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.models import Matching, PointsRequest
from airflow_provider_altcraft.operators.batch import send_rows
from airflow_provider_altcraft.sandbox import SandboxHandle, run_sandbox

HEADERS = {"Authorization": f"Bearer {support.TOKEN}", "Content-Type": "application/json"}


def naive(url: str, count: int) -> None:
    tag = uuid.uuid4().hex
    for n in range(count):
        response = requests.post(url + support.REDEEM_PATH, json=support.payload(n, tag),
                                 headers=HEADERS, timeout=30)  # fmt: skip
        if response.json()["error"] != 0:
            raise RuntimeError(response.text)


def hook_sequential(url: str, count: int) -> None:
    hook = AltcraftHook(support.CONN_ID)
    tag = uuid.uuid4().hex
    for n in range(count):
        values = support.row(n)
        hook.send_points_request(
            PointsRequest.build(
                "redeem",
                loyalty_program_id=1,
                amount=values["amount"],
                matching=Matching.by_email(values["email"]),
                transaction_eid=f"{tag}-{n}",
            )
        )
    hook.close()


def batch(concurrency: int) -> Callable[[str, int], None]:
    def run(url: str, count: int) -> None:
        hook = AltcraftHook(support.CONN_ID)
        source = RowSource.build(rows=list(support.rows(count)))
        spec = RowSpec(
            operation="redeem",
            constants={"loyalty_program_id": 1, "points_currency_eid": "stars"},
            column_mapping={},
            row_key_column=None,
            key_scope="bench",
            position_namespace=uuid.uuid4(),
        )
        _, valid = validate_rows(source, spec, lambda problem: None)
        failed: list[str] = []
        send_rows(
            hook,
            valid_rows(source, spec),
            concurrency=concurrency,
            check_existing=False,
            on_result=lambda result: failed.append(result.error) if result.error else None,
        )
        hook.close()
        if failed or valid != count:
            raise RuntimeError(f"{len(failed)} rows failed: {failed[:3]}")

    return run


def run_threads(worker: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def raw_http_client(concurrency: int) -> Callable[[str, int], None]:
    def run(url: str, count: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        tag = uuid.uuid4().hex
        numbers = itertools.count()  # next() on it is atomic under the GIL

        def worker() -> None:
            conn = http.client.HTTPConnection(host, int(port))
            while (n := next(numbers)) < count:
                body = json.dumps(support.payload(n, tag)).encode()
                conn.request("POST", support.REDEEM_PATH, body, HEADERS)
                conn.getresponse().read()
            conn.close()

        run_threads(worker, concurrency)

    return run


def raw_sessions(concurrency: int) -> Callable[[str, int], None]:
    def run(url: str, count: int) -> None:
        tag = uuid.uuid4().hex
        numbers = itertools.count()

        def worker() -> None:
            with requests.Session() as session:
                while (n := next(numbers)) < count:
                    body = json.dumps(support.payload(n, tag))
                    session.post(url + support.REDEEM_PATH, data=body, headers=HEADERS)

        run_threads(worker, concurrency)

    return run


def raw_urllib3(concurrency: int) -> Callable[[str, int], None]:
    """urllib3 without requests on top: what a lighter hook transport could reach."""

    def run(url: str, count: int) -> None:
        import urllib3

        tag = uuid.uuid4().hex
        numbers = itertools.count()
        pool = urllib3.PoolManager(maxsize=concurrency)

        def worker() -> None:
            while (n := next(numbers)) < count:
                body = json.dumps(support.payload(n, tag)).encode()
                pool.request("POST", url + support.REDEEM_PATH, body=body, headers=HEADERS)

        run_threads(worker, concurrency)
        pool.clear()

    return run


def hook_threads(concurrency: int) -> Callable[[str, int], None]:
    """The hook's own transport with threads and nothing else (pre-built requests)."""

    def run(url: str, count: int) -> None:
        hook = AltcraftHook(support.CONN_ID)
        tag = uuid.uuid4().hex
        built = iter(
            [
                PointsRequest.build(
                    "redeem",
                    loyalty_program_id=1,
                    amount="1.00",
                    matching=Matching.by_email(support.row(n)["email"]),
                    transaction_eid=f"{tag}-{n}",
                )
                for n in range(count)
            ]
        )
        lock = threading.Lock()

        def worker() -> None:
            while True:
                with lock:
                    request = next(built, None)
                if request is None:
                    return
                hook.send_points_request(request)

        hook.session  # noqa: B018  # created before the threads race to create it
        run_threads(worker, concurrency)
        hook.close()

    return run


def wrk_rate(url: str, connections: int, seconds: int) -> float | None:
    if not shutil.which("wrk"):
        return None
    body = json.dumps({"loyalty_program_id": 1, "amount": "1.00", "matching": "email",
                       "email": "m1@example.com"})  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n')
        for key, value in HEADERS.items():
            lua.write(f'wrk.headers["{key}"] = "{value}"\n')
        lua.flush()
        out = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", lua.name,
             url + support.REDEEM_PATH],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


def measure(
    sandbox: SandboxHandle,
    scenarios: dict[str, Callable[[str, int], None]],
    count: int,
    rounds: int,
) -> dict[str, list[float]]:
    """Rows/second per scenario; scenarios alternate within a round (fair to drift)."""
    rates: dict[str, list[float]] = {name: [] for name in scenarios}
    faults = sandbox.faults()["rules"]
    for _ in range(rounds):
        for name, scenario in scenarios.items():
            sandbox.reset()  # same ledger size for everyone; reset also clears faults
            sandbox.set_faults([{k: v for k, v in rule.items() if k != "hits"}
                                for rule in faults])  # fmt: skip
            started = time.perf_counter()
            scenario(sandbox.url, count)
            rates[name].append(count / (time.perf_counter() - started))
            redeemed = len(sandbox.transactions(transaction_type="redeem"))
            if redeemed != count:
                raise RuntimeError(f"{name}: {redeemed} transactions for {count} rows")
    return rates


def report(title: str, rates: dict[str, list[float]], baseline: str) -> None:
    print(title)
    for name, values in rates.items():
        print(support.median_line(name, values, "rows/s"))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, value in medians.items():
        if name != baseline:
            print(f"  batch / {name:<36} {medians[baseline] / value:>9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--delay-rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay-rounds", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--delay-ms", type=int, default=25)
    parser.add_argument("--wrk-seconds", type=int, default=3)
    args = parser.parse_args()

    batch_name = f"batch, {args.concurrency} threads"
    with run_sandbox(token=support.TOKEN, seed=support.seed()) as sandbox:
        support.use_connection(sandbox.url, pool_maxsize=args.concurrency, timeout=30)
        scenarios = {
            batch_name: batch(args.concurrency),
            "naive requests.post (new connection/row)": naive,
            "hook, sequential": hook_sequential,
            f"raw http.client, {args.concurrency} threads": raw_http_client(args.concurrency),
            f"raw requests.Session, {args.concurrency} threads": raw_sessions(args.concurrency),
            f"raw urllib3, {args.concurrency} threads": raw_urllib3(args.concurrency),
            f"hook only, {args.concurrency} threads (reference)": hook_threads(args.concurrency),
        }
        batch(args.concurrency)(sandbox.url, 200)  # warm-up (imports, first connections)
        loopback = measure(sandbox, scenarios, args.rows, args.rounds)
        report(f"LOOPBACK, N={args.rows}, median of {args.rounds} rounds", loopback, batch_name)
        batch_rate = statistics.median(loopback[batch_name])
        raw = max(statistics.median(v) for k, v in loopback.items() if k.startswith("raw"))
        print(f"  batch / fastest raw client (ceiling) {batch_rate / raw:>11.0%}")
        sandbox.reset()
        wrk = wrk_rate(sandbox.url, args.concurrency, args.wrk_seconds)
        if wrk is None:
            print("  wrk: not installed (apt-get install -y wrk); sandbox ceiling not measured")
        else:
            print(
                f"  wrk, {args.concurrency} connections (sandbox ceiling) {wrk:>12.0f} req/s;"
                f" batch = {batch_rate / wrk:.0%} of it"
            )

        sandbox.reset()
        sandbox.set_faults([{"kind": "delay", "rate": 1.0, "delay_ms": args.delay_ms}])
        delayed = measure(
            sandbox,
            {name: scenarios[name] for name in list(scenarios)[:4]},
            args.delay_rows,
            args.delay_rounds,
        )
        report(
            f"WAN-LIKE DELAY {args.delay_ms} ms/request, N={args.delay_rows}, "
            f"median of {args.delay_rounds} rounds",
            delayed,
            batch_name,
        )


if __name__ == "__main__":
    main()
