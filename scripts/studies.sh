#!/usr/bin/env bash
# Every study the README and the Reproduction page cite, seed after seed so that a partial run
# already gives a complete (if thinner) picture: seed 0 of every study, then seed 1 (a verdict
# needs two), then the fair-budget study (hours: 400 steps a run), then seed 2. Resumable: a
# finished run is found by its run_id and skipped. Then each study is bundled into studies/ and
# the README's report block rewritten.
#   scripts/studies.sh                 # everything (about 12 h on 2 CPU cores)
#   scripts/studies.sh --device cuda   # on a GPU
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
py=.venv/bin/python
sweep() { $py -m pruning sweep "configs/$1.toml" --set "sweep.seeds=$2" "${@:3}"; }
for study in compare pooler ablation trec sms structured; do sweep "$study" "[0]" "$@"; done
for study in compare ablation trec sms structured; do sweep "$study" "[0, 1]" "$@"; done
sweep budget "[0, 1]" "$@"
for method in "PLATON (authors' schedule)" "SEVENdyn (authors' schedule)"; do  # the control: SEVENdyn in PLATON's window
  window=(); [[ $method == SEVENdyn* ]] && window=(--set prune.start=32 --set prune.duration=208)
  sweep budget "[0, 1]" --set 'sweep.study="budget-window"' --set 'sweep.sparsities=[0.9]' \
    --set "sweep.methods=[\"$method\"]" "${window[@]}" "$@"
done
sweep from_pretrained "[0, 1]" "$@"
for study in compare ablation structured; do sweep "$study" "[0, 1, 2]" "$@"; done
for study in compare pooler ablation trec sms budget budget-window from-pretrained structured; do
  $py -m pruning bundle "$study" --out "studies/$study.zip"
done
$py -m pruning report --readme README.md
