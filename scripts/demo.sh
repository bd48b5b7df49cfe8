#!/usr/bin/env bash
# The main job, end to end on this machine: set up .venv (Airflow 3.3, pinned), start the
# Altcraft sandbox with the example seed, and run the two-phase redemption example DAG with
# `airflow dags test` (embedded SQLite metadata DB under .demo/). Prints the transaction id
# and the member's balance before and after.
#   scripts/demo.sh                  # commit path
#   scripts/demo.sh --rollback       # the business step fails: the hold is rolled back
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
scripts/setup_venv.sh "$venv" "${AIRFLOW_LINE:-3.3}"

conf='{}'
[ "${1:-}" = "--rollback" ] && conf='{"fail_business_step": true}'

demo=$PWD/.demo
rm -rf "$demo" && mkdir -p "$demo"
export AIRFLOW_HOME="$demo/airflow"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$demo/airflow/airflow.db"
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/dags_examples"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
token="demo-token-$(date +%s)"

"$venv/bin/altcraft-sandbox" --host 127.0.0.1 --port 0 --token "$token" \
  --seed airflow_provider_altcraft/sandbox/seed_example.json >"$demo/sandbox.out" 2>"$demo/sandbox.err" &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$demo/sandbox.out" 2>/dev/null && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$demo/sandbox.err" >&2; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/^altcraft-sandbox listening on //p' "$demo/sandbox.out")
[ -n "$url" ] || { echo "the sandbox did not start" >&2; cat "$demo/sandbox.err" >&2; exit 1; }
echo "Altcraft sandbox: $url"
export AIRFLOW_CONN_ALTCRAFT_DEFAULT="{\"conn_type\": \"altcraft\", \"host\": \"$url\", \"password\": \"$token\"}"

"$venv/bin/airflow" db migrate >"$demo/db-migrate.log" 2>&1
status=0
"$venv/bin/airflow" dags test altcraft_two_phase_redemption 2024-09-01 -c "$conf" \
  >"$demo/dags-test.log" 2>&1 || status=$?
echo "Airflow log: $demo/dags-test.log"
"$venv/bin/python" scripts/demo_summary.py "$url" "$demo/dags-test.log"
exit "$status"
