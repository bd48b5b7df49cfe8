#!/usr/bin/env bash
# Create (or refresh) a virtualenv with the provider, its test tools and a pinned Airflow.
#   scripts/setup_venv.sh [VENV_DIR] [AIRFLOW_LINE]     e.g.  scripts/setup_venv.sh .venv 3.3
# The exact versions come from constraints/airflow-<LINE>.txt, so every machine (and CI)
# installs the same set. Uses uv when it is on PATH (much faster), pip otherwise (or with USE_PIP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
line=${2:-3.3}
constraints="constraints/airflow-${line}.txt"
[ -f "$constraints" ] || { echo "no $constraints" >&2; exit 2; }

python=${PYTHON:-python3}
"$python" - <<'PY' || { echo "Python 3.10+ is needed (set PYTHON=/path/to/python3.x)" >&2; exit 2; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY

# Reinstall only when the constraints or the project metadata changed.
stamp="$venv/.altcraft-setup"
want=$(cat "$constraints" pyproject.toml | sha256sum | cut -c1-16)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi

extras="dev"
[ "$line" = "3.3" ] || extras="test"
echo "Setting up $venv (Airflow $line, constraints $constraints) ..." >&2
if [ -z "${USE_PIP:-}" ] && command -v uv >/dev/null 2>&1; then
  uv venv -q --allow-existing -p "$python" "$venv"
  VIRTUAL_ENV="$PWD/$venv" uv pip install -q -c "$constraints" -e ".[$extras]"
else
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -c "$constraints" -e ".[$extras]"
fi
echo "$want" > "$stamp"
