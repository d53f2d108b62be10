#!/usr/bin/env bash
# SEVENpre vs SNIP vs magnitude vs random on movie-reviews (configs/demo.toml budget: 250 dense
# steps, then 40 recovery steps), at 50/70/90% sparsity for seeds 0-2. Finished runs are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
for seed in 0 1 2; do
  for sparsity in 0.5 0.7 0.9; do
    for method in seven snip magnitude random; do
      .venv/bin/python -m pruning run configs/demo.toml --method "$method" --sparsity "$sparsity" --seed "$seed" "$@"
    done
  done
done
