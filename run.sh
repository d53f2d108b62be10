#!/usr/bin/env bash
# The main job: install, import the shipped studies (seconds), compute the demo if it is not there
# yet (progress in this terminal and on the dashboard), and open the dashboard at http://localhost:8501.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh requirements.txt
export HF_HUB_OFFLINE=1
shopt -s nullglob
bundles=(studies/*.zip)
if [ ${#bundles[@]} -gt 0 ]; then .venv/bin/python -m pruning import "${bundles[@]}"; fi
.venv/bin/python -m pruning demo &
demo=$!
trap 'kill $demo 2>/dev/null || true' EXIT
.venv/bin/python -m streamlit run app.py --server.port "${PORT:-8501}" --server.address "${ADDRESS:-127.0.0.1}" \
  --server.headless false
