"""DAG-parse cost of the operator modules: ``import`` time over ``import airflow.sdk`` alone.

Each measurement is a fresh interpreter (nothing cached in-process): it imports
``airflow.sdk`` (the baseline every DAG file pays), then the module under test, and prints
both durations. Medians of --runs.

    python benchmarks/import_cost.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = (
    "airflow_provider_altcraft.operators.batch",
    "airflow_provider_altcraft.operators.loyalty",
)
PROBE = """
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
before = set(sys.modules)
t1 = time.perf_counter()
__import__(sys.argv[1])
t2 = time.perf_counter()
new = set(sys.modules) - before
heavy = sorted(m for m in new if m.split(".")[0] in ("requests", "urllib3", "csv", "sqlalchemy")
               or m.startswith("airflow.providers"))
print(json.dumps({"sdk": t1 - t0, "module": t2 - t1, "loaded": heavy,
                  "new": len([m for m in new if not m.startswith("airflow_provider_altcraft")])}))
"""


def measure(module: str, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, env=env, check=True
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    env.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="altcraft-bench-airflow-"))
    measure(MODULES[0], env)  # warm the OS file cache and .pyc files
    print(f"fresh interpreter per run, median of {args.runs} runs ({sys.executable})")
    for module in MODULES:
        runs = [measure(module, env) for _ in range(args.runs)]
        sdk = statistics.median(float(r["sdk"]) for r in runs) * 1000  # type: ignore[arg-type]
        extra = statistics.median(float(r["module"]) for r in runs) * 1000  # type: ignore[arg-type]
        print(f"  import airflow.sdk                      {sdk:8.1f} ms")
        print(f"  + import {module:<40} {extra:8.1f} ms  ({extra / sdk:.0%} of airflow.sdk)")
        print(
            f"    heavy modules it loads: {runs[-1]['loaded'] or 'none'}; "
            f"modules outside the provider it loads: {runs[-1]['new']}"
        )


if __name__ == "__main__":
    main()
