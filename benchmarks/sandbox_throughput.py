"""Throughput of the Altcraft sandbox for a simple ``loyalty/account/balance`` call.

Starts the sandbox as a subprocess (seeded with the package's example seed), then measures
requests/second with keep-alive ``requests.Session`` clients (1 thread and N threads), with
one stdlib ``http.client`` connection (a lighter client: closer to the server's own cost) and,
when ``wrk`` is on PATH, with wrk (a Lua script posts the JSON body). Prints the median of
several rounds per scenario.

    python benchmarks/sandbox_throughput.py [--rounds 3] [--seconds 2] [--threads 4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_altcraft.sandbox import SEED_EXAMPLE  # noqa: E402

TOKEN = "bench-token"
METHOD = "/api/v1.1/loyalty/account/balance"
BODY = {"loyalty_program_id": 1, "matching": "profile_id", "profile_id": "p-1"}


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable, "-m", "airflow_provider_altcraft.sandbox", "--port", "0",
        "--token", TOKEN, "--seed", str(SEED_EXAMPLE), "--quiet",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if match is None:
        proc.kill()
        raise SystemExit(f"sandbox did not start: {line!r}")
    return proc, match.group(1)


def session_round(url: str, threads: int, seconds: float) -> float:
    """Requests/second over ``seconds`` with ``threads`` keep-alive sessions."""
    counts = [0] * threads
    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    payload = json.dumps(BODY)

    def worker(index: int) -> None:
        with requests.Session() as session:
            n = 0
            while time.perf_counter() < stop:
                response = session.post(url + METHOD, data=payload, headers=headers)
                if response.json()["error"] != 0:
                    raise RuntimeError(response.text)
                n += 1
            counts[index] = n

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def http_client_round(url: str, seconds: float) -> float:
    """Requests/second with one stdlib ``http.client`` keep-alive connection (a light client)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    payload = json.dumps(BODY).encode()
    n = 0
    started = time.perf_counter()
    stop = started + seconds
    while time.perf_counter() < stop:
        conn.request("POST", METHOD, payload, headers)
        conn.getresponse().read()
        n += 1
    conn.close()
    return n / (time.perf_counter() - started)


def wrk_round(url: str, script: str, connections: int, seconds: float) -> float:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "-s",
            script,
            url + METHOD,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        print(out, file=sys.stderr)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--wrk-connections", type=int, default=16)
    args = parser.parse_args()

    proc, url = start_sandbox()
    try:
        session_round(url, 1, 0.3)  # warm-up
        results: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            results.setdefault("requests, 1 thread", []).append(session_round(url, 1, args.seconds))
            results.setdefault(f"requests, {args.threads} threads", []).append(
                session_round(url, args.threads, args.seconds)
            )
            results.setdefault("http.client, 1 thread", []).append(
                http_client_round(url, args.seconds)
            )
        if shutil.which("wrk"):
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
                lua.write(
                    'wrk.method = "POST"\n'
                    f"wrk.body = {json.dumps(json.dumps(BODY))}\n"
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    f'wrk.headers["Authorization"] = "Bearer {TOKEN}"\n'
                )
            try:
                key = f"wrk, {args.wrk_connections} connections"
                for _ in range(args.rounds):
                    results.setdefault(key, []).append(
                        wrk_round(url, lua.name, args.wrk_connections, args.seconds)
                    )
            finally:
                os.unlink(lua.name)
        else:
            print("wrk not on PATH: skipping the wrk scenario")
        print(f"sandbox {url}, {METHOD}, median of {args.rounds} rounds x {args.seconds}s")
        for name, values in results.items():
            rounds = ", ".join(f"{v:.0f}" for v in values)
            print(f"  {name:<28} {statistics.median(values):>9.0f} req/s   ({rounds})")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
