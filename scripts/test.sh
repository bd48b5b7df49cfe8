#!/usr/bin/env bash
# Set up .venv (Airflow 3.3, pinned) and run the test suite; arguments go to pytest.
#   scripts/test.sh                 # everything
#   scripts/test.sh tests/hooks -k retry
# VENV and AIRFLOW_LINE select another environment, e.g. AIRFLOW_LINE=2.11 VENV=.venv-af2.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
line=${AIRFLOW_LINE:-3.3}
scripts/setup_venv.sh "$venv" "$line"
exec "$venv/bin/python" -m pytest "$@"
