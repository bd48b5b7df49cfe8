"""Batch throughput under overload answers, side by side in one run.

Three scenarios, each on a fresh ledger with the sandbox adding a WAN-like --delay-ms to every
request (loopback alone would measure only this machine's CPU):

* fault-free;
* --rate-503 sporadic HTTP 503 without Retry-After on the redemptions (the connection says
  ``http_503_not_applied: true``, so they are re-sent; with the default, they would be looked
  up as outcome unknown instead): the adaptive in-flight limit should keep at least half of
  the fault-free rate;
* a 429 storm: the first --storm answers are HTTP 429 with ``Retry-After: 1``: the batch must
  send no faster than that allows (about one wave of --concurrency requests per second).

    python benchmarks/batch_degradation.py [--rows 2000] [--rounds 3] [--concurrency 16]
        [--delay-ms 25] [--rate-503 0.04] [--storm 64]
"""

from __future__ import annotations

import argparse
import statistics
import time

import batch_support as support
from batch_throughput import batch

from airflow_provider_altcraft.sandbox import SandboxHandle, run_sandbox

REDEEM = "loyalty/redeeme_points"


def timed(sandbox: SandboxHandle, rules: list[dict[str, object]], rows: int, threads: int) -> float:
    sandbox.reset()
    sandbox.set_faults(rules)
    started = time.perf_counter()
    batch(threads)(sandbox.url, rows)
    elapsed = time.perf_counter() - started
    redeemed = len(sandbox.transactions(transaction_type="redeem"))
    if redeemed != rows:
        raise RuntimeError(f"{redeemed} transactions for {rows} rows")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--delay-ms", type=int, default=25)
    parser.add_argument("--rate-503", type=float, default=0.04)
    parser.add_argument("--storm", type=int, default=64)
    args = parser.parse_args()

    delay = {"kind": "delay", "rate": 1.0, "delay_ms": args.delay_ms}
    scenarios = {
        "fault-free": [delay],
        f"{args.rate_503:.0%} HTTP 503, no Retry-After": [
            delay,
            {"kind": "http_503", "rate": args.rate_503, "methods": [REDEEM]},
        ],
        f"429 storm: first {args.storm} answers, Retry-After 1": [
            delay,
            {"kind": "http_429", "retry_after": 1, "methods": [REDEEM], "max_count": args.storm},
        ],
    }
    seconds: dict[str, list[float]] = {name: [] for name in scenarios}
    with run_sandbox(token=support.TOKEN, seed=support.seed()) as sandbox:
        support.use_connection(
            sandbox.url, pool_maxsize=args.concurrency, timeout=30, http_503_not_applied=True,
            max_retries=10,
        )  # fmt: skip
        batch(args.concurrency)(sandbox.url, 100)  # warm-up
        for _ in range(args.rounds):
            for name, rules in scenarios.items():  # alternate: fair to drift
                seconds[name].append(timed(sandbox, rules, args.rows, args.concurrency))

    print(
        f"BATCH UNDER OVERLOAD, N={args.rows}, {args.concurrency} threads, "
        f"{args.delay_ms} ms/request, median of {args.rounds} rounds"
    )
    rates = {name: [args.rows / s for s in values] for name, values in seconds.items()}
    for name, values in rates.items():
        print(support.median_line(name, values, "rows/s"))
    base = statistics.median(rates["fault-free"])
    for name, values in list(rates.items())[1:]:
        print(f"  {name:<44} {statistics.median(values) / base:>9.0%} of fault-free")
    storm = list(scenarios)[2]
    extra = statistics.median(seconds[storm]) - statistics.median(seconds["fault-free"])
    waves = args.storm / args.concurrency
    print(
        f"  429 storm: {args.storm} refusals cost {extra:.1f} s more; the server allowed "
        f"one wave of {args.concurrency} per second, so at least {waves - 1:.0f} s: "
        f"{'no faster than allowed' if extra >= waves - 1 else 'FASTER THAN ALLOWED'}"
    )


if __name__ == "__main__":
    main()
