#!/usr/bin/env bash
# The whole suite: install, lint, then every test (slow ones first, on 2 workers).
# Browser tests need Debian's chromium; Fashion-MNIST tests need dataset-fashion-mnist
# (.ci/run installs both; as root this script does too).
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  [ -x /usr/bin/chromium ] || missing="$missing chromium"
  [ -d /usr/share/datasets/fashion-mnist ] || missing="$missing dataset-fashion-mnist"
  if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi
scripts/setup.sh requirements-dev.txt
export HF_HUB_OFFLINE=1
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -n 2 "$@"
