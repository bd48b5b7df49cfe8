"""Peak memory of the batch operator redeeming N rows from a CSV file (flat in N?).

For each N a fresh interpreter imports the operator, notes its RSS, runs the operator's
execute() on an N-row file against the sandbox (concurrency 16), and reports its peak RSS
(ru_maxrss) and the growth over the post-import baseline. The growth must not scale with N.

    python benchmarks/memory_batch.py [--sizes 10000,50000,100000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import batch_support as support

from airflow_provider_altcraft.sandbox import run_sandbox

CHILD = """
import json, resource, sys, time, types
from airflow_provider_altcraft.operators.batch import AltcraftBatchRedeemPointsOperator

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

path, results, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
operator = AltcraftBatchRedeemPointsOperator(
    task_id="memory", altcraft_conn_id="altcraft_bench", rows_file=path, loyalty_program_id=1,
    concurrency=concurrency, results_path=results, progress_interval_sec=3600,
)
baseline = rss_mb()
ti = types.SimpleNamespace(dag_id="memory", task_id="memory", run_id=path, map_index=-1,
                           try_number=1)
started = time.perf_counter()
summary = operator.execute({"ti": ti})
print(json.dumps({"baseline_mb": baseline, "peak_mb": rss_mb(), "sent": summary["sent"],
                  "seconds": time.perf_counter() - started}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with run_sandbox(token=support.TOKEN, seed=support.seed()) as sandbox, \
            tempfile.TemporaryDirectory() as tmp:  # fmt: skip
        support.use_connection(sandbox.url, timeout=30)
        env = dict(os.environ, PYTHONPATH=str(support.ROOT))
        print(f"peak RSS of a fresh interpreter running the operator on N CSV rows "
              f"(concurrency {args.concurrency})")  # fmt: skip
        print(f"  {'rows':>8} {'after import':>13} {'peak':>9} {'growth':>9} {'rows/s':>8}")
        for size in sizes:
            sandbox.reset()  # the sandbox's ledger lives in its own process; keep it small
            path = support.write_csv(Path(tmp) / f"rows_{size}.csv", size)
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(path), str(Path(tmp) / f"results_{size}.csv"),
                 str(args.concurrency)],
                capture_output=True, text=True, env=env, check=True,
            ).stdout  # fmt: skip
            result = json.loads(out.strip().splitlines()[-1])
            if result["sent"] != size:
                raise SystemExit(f"{size} rows: only {result['sent']} sent")
            growth = result["peak_mb"] - result["baseline_mb"]
            print(f"  {size:>8} {result['baseline_mb']:>10.1f} MB {result['peak_mb']:>6.1f} MB "
                  f"{growth:>6.1f} MB {size / result['seconds']:>8.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
