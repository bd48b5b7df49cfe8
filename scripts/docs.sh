#!/usr/bin/env bash
# Build the documentation (docs/, Sphinx + MyST) with warnings as errors, offline.
#   scripts/docs.sh                 # HTML into /tmp/docs-build
#   OUT=/some/dir scripts/docs.sh
# Needs the docs extra (in dev): the .venv that scripts/setup_venv.sh makes has it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
out=${OUT:-/tmp/docs-build}
"$venv/bin/python" scripts/gen_connection_docs.py --check
# -E -a: a fresh build, so warnings of unchanged pages are reported every time.
exec "$venv/bin/python" -m sphinx -E -a -W --keep-going -b html docs "$out"
