#!/usr/bin/env bash
# A real distributed Airflow on this machine: CeleryExecutor, two Celery workers, PostgreSQL
# metadata DB, Redis broker; every process on loopback, every log in one folder.
#
#   scripts/cluster.sh start          # (re)create the DB, start everything, wait until healthy
#   scripts/cluster.sh stop           # stop every process it started; nothing is left running
#   scripts/cluster.sh status         # which processes run, and the API's health
#   scripts/cluster.sh kill-worker N  # SIGKILL worker N and every process under it (host loss)
#   scripts/cluster.sh start-worker N # start worker N again
#   source "$(scripts/cluster.sh env)" # this shell's airflow CLI now talks to the cluster
#
# Settings (environment): CLUSTER_DIR (default /tmp/altcraft-cluster: home, logs, pids), CLUSTER_DB
# (altcraft_airflow_cluster), CLUSTER_PG (postgres@127.0.0.1:5432), CLUSTER_REDIS_DB (5),
# CLUSTER_API_PORT (28080), CLUSTER_DAGS_FOLDER (dags_examples), CLUSTER_WORKER_CONCURRENCY
# (2 task slots per worker), CLUSTER_POOL_SLOTS (3: the altcraft_api pool), CLUSTER_KEEP_DB=1
# keeps the DB (default: dropped and recreated on start), VENV (.venv).
# Any AIRFLOW_CONN_* in the environment of `start` reaches the tasks (e.g. the Altcraft one).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$repo/.venv}
dir=${CLUSTER_DIR:-${TMPDIR:-/tmp}/altcraft-cluster}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
db=${CLUSTER_DB:-altcraft_airflow_cluster}
pg=${CLUSTER_PG:-postgres@127.0.0.1:5432}
redis_db=${CLUSTER_REDIS_DB:-5}
api_port=${CLUSTER_API_PORT:-28080}
dags=${CLUSTER_DAGS_FOLDER:-$repo/dags_examples}
slots_per_worker=${CLUSTER_WORKER_CONCURRENCY:-2}
pool_slots=${CLUSTER_POOL_SLOTS:-3}
home=$dir/home
logs=$dir/logs
pids=$dir/pids
envfile=$dir/env.sh

die() { echo "cluster: $*" >&2; exit 1; }
log() { echo "cluster: $*" >&2; }

reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

write_env() {
  mkdir -p "$home/config" "$logs" "$pids"
  # Both workers run on this one machine: each task instance records the worker's own name
  # (ALTCRAFT_CLUSTER_HOSTNAME) as its hostname instead of the machine's.
  cat > "$home/config/altcraft_cluster_hostname.py" <<'PY'
import os
import socket


def hostname() -> str:
    return os.environ.get("ALTCRAFT_CLUSTER_HOSTNAME") or socket.getfqdn()
PY
  local secret
  secret=$(cat "$dir/secret" 2>/dev/null || true)
  if [ -z "$secret" ]; then
    secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    (umask 077 && echo "$secret" > "$dir/secret")
  fi
  local pg_user=${pg%%@*} pg_hostport=${pg#*@}
  (umask 077 && cat > "$envfile" <<EOF
# Source this file to run the airflow CLI against the cluster (written by scripts/cluster.sh).
export AIRFLOW_HOME='$home'
export PYTHONPATH='$home/config'\${PYTHONPATH:+:\$PYTHONPATH}
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__CORE__DAGS_FOLDER='$dags'
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__HOSTNAME_CALLABLE=altcraft_cluster_hostname.hostname
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL='http://127.0.0.1:$api_port/execution/'
export AIRFLOW__CORE__PARALLELISM=16
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN='postgresql+psycopg2://$pg_user@$pg_hostport/$db'
export AIRFLOW__CELERY__BROKER_URL='redis://127.0.0.1:6379/$redis_db'
export AIRFLOW__CELERY__RESULT_BACKEND='db+postgresql://$pg_user@$pg_hostport/$db'
export AIRFLOW__CELERY__WORKER_CONCURRENCY=$slots_per_worker
# One task per worker process at a time: a prefetched task would wait behind a long chunk.
export AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER=1
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=$api_port
export AIRFLOW__API__BASE_URL='http://127.0.0.1:$api_port'
export AIRFLOW__API__SECRET_KEY='$secret'
export AIRFLOW__API_AUTH__JWT_SECRET='$secret'
export AIRFLOW__LOGGING__BASE_LOG_FOLDER='$logs/tasks'
export AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY='$logs/dag-processor'
# A dead worker is noticed in ~20 s instead of 5 minutes: task heartbeats every 2 s, timed out
# after 20 s, checked every 2 s.
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC=2
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=20
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL=2
export AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL=2
export AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC=1
export AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC=2
export AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT=300
export AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC=2
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=30
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1
EOF
  )
}

load_env() {
  [ -f "$envfile" ] || write_env
  # shellcheck disable=SC1090
  source "$envfile"
  export PATH="$venv/bin:$PATH"
  # The running cluster's settings win over this shell's.
  api_port=$AIRFLOW__API__PORT
  slots_per_worker=$AIRFLOW__CELERY__WORKER_CONCURRENCY
}

need_services() {
  reachable 127.0.0.1 "${pg##*:}" || die "PostgreSQL is not reachable on ${pg#*@}"
  reachable 127.0.0.1 6379 || die "Redis is not reachable on 127.0.0.1:6379"
  "$venv/bin/python" -c "import airflow.providers.celery" 2>/dev/null || {
    log "installing the celery extra into $venv"
    if "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
      "$venv/bin/python" -m pip install -q -c "$repo/constraints/airflow-3.3.txt" -e "$repo[celery]"
    else  # a venv made by uv has no pip
      VIRTUAL_ENV="$venv" uv pip install -q -c "$repo/constraints/airflow-3.3.txt" -e "$repo[celery]"
    fi
  }
}

# SQL on the server's postgres database: psql when installed, else psycopg2 from the venv.
psql_admin() {  # psql_admin -c "SQL"
  local host port user
  host=$(echo "${pg#*@}" | cut -d: -f1) port=${pg##*:} user=${pg%%@*}
  if command -v psql >/dev/null 2>&1; then
    psql -h "$host" -p "$port" -U "$user" -d postgres -qAt "$@"
    return
  fi
  "$venv/bin/python" - "$host" "$port" "$user" "$2" <<'PY'
import sys

import psycopg2

host, port, user, sql = sys.argv[1:5]
connection = psycopg2.connect(host=host, port=int(port), user=user, dbname="postgres")
connection.autocommit = True
with connection.cursor() as cursor:
    cursor.execute(sql)
    if cursor.description:
        for row in cursor.fetchall():
            print("|".join(str(value) for value in row))
PY
}

# Start one process in its own session (so stop/kill reach everything under it).
spawn() {
  local name=$1; shift
  if alive "$name"; then log "$name already running"; return; fi
  setsid "$@" > "$logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$pids/$name.pid"
}

alive() { local p; p=$(cat "$pids/$1.pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null; }

# Every process of a session (setsid makes the first pid its id) plus their descendants.
tree() {
  local root=$1 all kids p
  all=$(ps -eo pid=,sid= | awk -v s="$root" '$2 == s {print $1}')
  kids=$root
  while [ -n "$kids" ]; do
    p=$kids; kids=""
    for k in $p; do
      all="$all $k"
      kids="$kids $(ps -o pid= --ppid "$k" | tr '\n' ' ')"
    done
    kids=$(echo "$kids" | xargs -n1 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/ *$//')
  done
  echo "$all" | xargs -n1 2>/dev/null | sort -un | tr '\n' ' '
}

halt() {  # halt SIGNAL NAME...: signal every process of those trees at once, wait until gone
  local sig=$1 name root pidlist="" i p left
  shift
  for name in "$@"; do
    root=$(cat "$pids/$name.pid" 2>/dev/null) || continue
    pidlist="$pidlist $(tree "$root")"
  done
  # shellcheck disable=SC2086
  [ -n "${pidlist// /}" ] && kill "-$sig" $pidlist 2>/dev/null || true
  for i in $(seq 1 100); do
    left=""
    for p in $pidlist; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
    [ -z "$left" ] && break
    if [ "$sig" != KILL ] && [ "$i" -eq 75 ]; then
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null || true
    fi
    sleep 0.2
  done
  for name in "$@"; do rm -f "$pids/$name.pid"; done
}

start_worker() {
  local n=$1
  # --skip-serve-logs: Airflow's log server binds every interface; every log is in one local
  # folder that the api-server reads directly.
  ALTCRAFT_CLUSTER_HOSTNAME="worker$n" \
    spawn "worker$n" airflow celery worker --celery-hostname "worker$n@%h" \
    --concurrency "$slots_per_worker" --without-mingle --without-gossip --skip-serve-logs
}

api_ok() { curl -sf "http://127.0.0.1:$api_port/api/v2/monitor/health" 2>/dev/null; }

healthy() {
  local health
  health=$(api_ok) || return 1
  echo "$health" | "$venv/bin/python" -c '
import json, sys
h = json.load(sys.stdin)
parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
sys.exit(0 if all((h.get(p) or {}).get("status") == "healthy" for p in parts) else 1)'
}

workers_ready() {
  local n
  for n in 1 2; do
    grep -q "ready" "$logs/worker$n.log" 2>/dev/null || return 1
  done
}

cmd_start() {
  need_services
  write_env
  load_env
  if [ -z "${CLUSTER_KEEP_DB:-}" ]; then
    cmd_stop >/dev/null 2>&1 || true
    psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    psql_admin -c "CREATE DATABASE $db"
    redis-cli -h 127.0.0.1 -n "$redis_db" flushdb >/dev/null 2>&1 || \
      "$venv/bin/python" -c "import redis; redis.Redis(host='127.0.0.1', db=$redis_db).flushdb()"
    rm -rf "$logs"
    mkdir -p "$logs"
  elif ! psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    psql_admin -c "CREATE DATABASE $db"
  fi
  local t0=$SECONDS
  log "migrating the metadata DB $db"
  airflow db migrate > "$logs/db-migrate.log" 2>&1 || { tail -20 "$logs/db-migrate.log"; die "db migrate failed"; }
  airflow pools set altcraft_api "$pool_slots" "Concurrent Altcraft batch tasks" > /dev/null 2>&1 \
    || die "cannot create the altcraft_api pool"
  spawn api-server airflow api-server --host 127.0.0.1 --port "$api_port" --workers 1
  spawn scheduler airflow scheduler
  spawn dag-processor airflow dag-processor
  spawn triggerer airflow triggerer --skip-serve-logs
  start_worker 1
  start_worker 2
  log "waiting until every process is healthy (logs in $logs)"
  for _ in $(seq 1 300); do
    if healthy && workers_ready; then
      log "healthy after $((SECONDS - t0)) s: API http://127.0.0.1:$api_port, env $envfile"
      return 0
    fi
    for name in api-server scheduler dag-processor triggerer worker1 worker2; do
      alive "$name" || { tail -30 "$logs/$name.log" >&2; die "$name exited (log: $logs/$name.log)"; }
    done
    sleep 1
  done
  die "not healthy after 300 s (logs in $logs)"
}

cmd_stop() {
  # Everything at once: a worker's running tasks are killed with it (their retries resume).
  halt TERM worker1 worker2 scheduler triggerer dag-processor api-server
  log "stopped"
}

cmd_status() {
  local name
  for name in api-server scheduler dag-processor triggerer worker1 worker2; do
    if alive "$name"; then echo "$name: running (pid $(cat "$pids/$name.pid"))"; else echo "$name: not running"; fi
  done
  api_ok || echo "API: not answering on 127.0.0.1:$api_port"
  echo
}

case "${1:-}" in
  start) cmd_start ;;
  stop) [ -d "$pids" ] && cmd_stop ;;
  status) [ -f "$envfile" ] && load_env; cmd_status ;;
  env) [ -f "$envfile" ] || write_env; echo "$envfile" ;;
  kill-worker) [ -n "${2:-}" ] || die "which worker? 1 or 2"; halt KILL "worker$2"; log "worker$2 killed" ;;
  start-worker) [ -n "${2:-}" ] || die "which worker? 1 or 2"; load_env; start_worker "$2" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
