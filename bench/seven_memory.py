"""Peak memory of SEVENdyn fine-tuning over plain fine-tuning on MiniLM (batch 32, seq 64), in
fp32 copies of the prunable weights; goal <= 3. Each variant runs in a fresh child process
(peak RSS only grows), one after the other, a few steps each."""

import json
import resource
import subprocess
import sys

from .common import SETTINGS

CHILD = """
import json, resource, sys
import torch
from bench.common import bench_batch, bench_model
from pruning import prunable_parameters
from pruning.methods.seven import SevenScorer
from pruning.pruners import GradualPruning
from pruning.train import TrainState
batch = bench_batch(32, 64)
model = bench_model()
params = prunable_parameters(model)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
state = TrainState(model, optimizer, 0, 10)
pruner = GradualPruning(lambda: SevenScorer(params), 0.7, start=0, duration=10) if sys.argv[1] == "dyn" else None
for step in range(4):
    state.step = step
    model.zero_grad(set_to_none=True)
    model(**batch).loss.backward()
    if pruner: pruner.after_backward(state)
    optimizer.step()
    if pruner: pruner.on_step_end(state)
print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "prunable_bytes": 4 * sum(p.numel() for p in params.values())}))
"""


def _peak(variant: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, variant], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(repeats: int = 1) -> None:
    if SETTINGS["model"] != "minilm" or SETTINGS["device"].type != "cpu":
        raise SystemExit("seven_memory measures the CPU peak RSS of MiniLM: use --model minilm --device cpu")
    plain, dyn = _peak("plain"), _peak("dyn")
    extra = (dyn["peak_kb"] - plain["peak_kb"]) * 1024
    print(json.dumps({"bench": "seven_memory", "plain_peak_mb": round(plain["peak_kb"] / 1024, 1),
                      "dyn_peak_mb": round(dyn["peak_kb"] / 1024, 1),
                      "extra_copies": round(extra / plain["prunable_bytes"], 2), "goal": 3,
                      "self_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
