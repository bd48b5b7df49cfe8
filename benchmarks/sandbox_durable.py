"""Cost of the sandbox's durable mode: redeem requests/second with and without ``--durable``.

Starts two sandbox subprocesses side by side, each with a ``--state-file`` in a temporary
directory (``--tmp-dir`` to choose the file system): the default mode (snapshot debounced
to ~0.5 s) and the durable mode (an fdatasync'd journal line per write, grouped across
concurrent requests). Each round sends ``loyalty/redeeme_points`` with distinct
``transaction_eid`` values over stdlib ``http.client`` keep-alive connections: one connection,
then ``--connections`` concurrent ones (the durable mode's group commit shares a sync between
them). The two modes alternate within each round, so both see the same machine load, and
each measurement starts from the seed (``POST /_sandbox/reset``, untimed): the default mode's
debounced snapshot costs more as the ledger grows.

It then times what the rejected design would cost: writing and fsyncing the whole snapshot
before each answer, for ledgers of several sizes (in-process, no HTTP).

    python benchmarks/sandbox_durable.py [--rounds 3] [--seconds 3] [--connections 8]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_altcraft.sandbox import SEED_EXAMPLE, SandboxApp  # noqa: E402
from airflow_provider_altcraft.sandbox.http import Request  # noqa: E402
from airflow_provider_altcraft.sandbox.persistence import StateFile  # noqa: E402

TOKEN = "bench-token"
METHOD = "/api/v1.1/loyalty/redeeme_points"
_EIDS = itertools.count()


def rich_seed() -> dict[str, Any]:
    """The example seed with balances large enough for millions of 0.01 redemptions."""
    seed: dict[str, Any] = json.loads(Path(SEED_EXAMPLE).read_text(encoding="utf-8"))
    for member in seed["members"]:
        member["balances"] = {k: "1000000000" for k in member.get("balances", {})}
    return seed


def start_sandbox(seed: Path, state: Path, durable: bool) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable, "-m", "airflow_provider_altcraft.sandbox", "--port", "0",
        "--token", TOKEN, "--seed", str(seed), "--state-file", str(state), "--quiet",
    ]  # fmt: skip
    if durable:
        cmd.append("--durable")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if match is None:
        proc.kill()
        raise SystemExit(f"sandbox did not start: {line!r}")
    return proc, match.group(1)


def reset(url: str) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request("POST", "/_sandbox/reset", b"{}", {"Content-Type": "application/json"})
    if conn.getresponse().status != 200:
        raise RuntimeError("reset failed")
    conn.close()


def redeem_round(url: str, connections: int, seconds: float) -> float:
    """Redeem requests/second over ``seconds`` with ``connections`` keep-alive connections."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    counts = [0] * connections
    stop = time.perf_counter() + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        n = 0
        while time.perf_counter() < stop:
            body = {
                "loyalty_program_id": 1, "matching": "profile_id", "profile_id": "p-1",
                "amount": "0.01", "transaction_eid": f"bench-{next(_EIDS)}",
            }  # fmt: skip
            conn.request("POST", METHOD, json.dumps(body).encode(), headers)
            answer = json.loads(conn.getresponse().read())
            if answer["error"] != 0:
                raise RuntimeError(answer)
            n += 1
        conn.close()
        counts[index] = n

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def snapshot_cost(transactions: int, directory: Path, repeat: int = 3) -> tuple[float, int]:
    """Seconds to write + fsync one snapshot of a ledger holding ``transactions`` (median)."""
    app = SandboxApp(token=TOKEN, seed=rich_seed())
    for i in range(transactions):
        body = {
            "token": TOKEN, "loyalty_program_id": 1, "matching": "profile_id",
            "profile_id": "p-1", "amount": "0.01", "transaction_eid": f"s-{i}",
        }  # fmt: skip
        request = Request("POST", METHOD, "", {}, json.dumps(body).encode())
        app.handle(request)
    store = StateFile(directory / f"snap-{transactions}.json", durable=True)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        store.save(app)
        times.append(time.perf_counter() - started)
    store.close_journal()
    return statistics.median(times), store.path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tmp-dir", help="where the state files go (default: the system's)")
    parser.add_argument(
        "--snapshot-sizes", default="1000,10000,100000", help="ledger sizes for the snapshot cost"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sandbox-durable-", dir=args.tmp_dir) as tmp:
        directory = Path(tmp)
        seed = directory / "seed.json"
        seed.write_text(json.dumps(rich_seed()), encoding="utf-8")
        modes = {"default": False, "durable": True}
        procs: dict[str, tuple[subprocess.Popen[str], str]] = {}
        try:
            for name, durable in modes.items():
                procs[name] = start_sandbox(seed, directory / f"{name}.json", durable)
            for _, url in procs.values():
                redeem_round(url, 1, 0.3)  # warm-up
            results: dict[tuple[str, int], list[float]] = {}
            for _ in range(args.rounds):
                for connections in (1, args.connections):
                    for name, (_, url) in procs.items():
                        reset(url)  # both modes start each measurement from the seed
                        rate = redeem_round(url, connections, args.seconds)
                        results.setdefault((name, connections), []).append(rate)
        finally:
            for proc, _ in procs.values():
                proc.terminate()
                proc.wait(10)

        print(
            f"redeem req/s, median of {args.rounds} rounds x {args.seconds}s, "
            f"state files in {directory.parent}"
        )
        print("| connections | default mode | durable mode | durable / default |")
        print("|---:|---:|---:|---:|")
        for connections in (1, args.connections):
            plain = statistics.median(results[("default", connections)])
            safe = statistics.median(results[("durable", connections)])
            print(f"| {connections} | {plain:,.0f} | {safe:,.0f} | {safe / plain:.0%} |")
        for (name, connections), rates in results.items():
            rounds = ", ".join(f"{r:,.0f}" for r in rates)
            print(f"  rounds: {name}, {connections} connection(s): {rounds}")
        print(f"  redemptions sent: {next(_EIDS):,} (each measurement starts from the seed)")

        print("\nwrite + fsync of one whole snapshot (the rejected per-write design)")
        print("| ledger transactions | snapshot size | write + fsync | max writes/s |")
        print("|---:|---:|---:|---:|")
        for size in (int(s) for s in args.snapshot_sizes.split(",") if s):
            seconds, size_bytes = snapshot_cost(size, directory)
            print(
                f"| {size:,} | {size_bytes / 1e6:.1f} MB | {seconds * 1000:,.1f} ms | "
                f"{1 / seconds:,.1f} |"
            )


if __name__ == "__main__":
    main()
