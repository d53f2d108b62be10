#!/usr/bin/env bash
# Every study the README and the Reproduction page cite, in rounds of seeds so that a partial
# run already gives a complete (if thinner) picture: seed 0 of every study, then seed 1, then 2.
# Resumable: a finished run is found by its run_id and skipped. Then bundle each study into
# studies/ and rewrite the README's report block.
#   scripts/studies.sh                 # all rounds (about 8 h on 2 CPU cores)
#   scripts/studies.sh --device cuda   # on a GPU
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
py=.venv/bin/python
for seeds in "[0]" "[0, 1]" "[0, 1, 2]"; do
  for study in compare pooler ablation trec sms budget; do
    if [ "$study" = budget ] || [ "$study" = pooler ]; then [ "$seeds" = "[0]" ] || continue; fi  # one seed (README)
    $py -m pruning sweep "configs/$study.toml" --set "sweep.seeds=$seeds" "$@"
  done
done
for study in compare pooler ablation trec sms budget; do
  $py -m pruning bundle "$study" --out "studies/$study.zip"
done
$py -m pruning report --readme README.md
