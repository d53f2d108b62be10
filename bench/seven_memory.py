"""Peak memory of SEVENdyn fine-tuning over plain fine-tuning on MiniLM (batch 32, seq 64), in
fp32 copies of the prunable weights; goal <= 3. Each variant runs in a fresh child process
(peak RSS only grows), one after the other, a few steps each, twice: with glibc's default
allocator (`extra_copies`: what a user's process holds; glibc keeps freed large blocks once its
mmap threshold has risen) and with that threshold fixed at 64 KiB (`extra_copies_live`: large
tensors go back to the system when freed, so the peak is that of the live tensors: SEVEN's m, v
and S are 3 copies, the masks 0.25 each)."""

import json
import os
import resource
import subprocess
import sys

from .common import SETTINGS, report

CHILD = """
import json, resource, sys
import torch
from bench.common import bench_batch, bench_model
from pruning import METHODS, prunable_parameters
from pruning.pruners import GradualPruning
from pruning.train import TrainState
batch = bench_batch(32, 64)
model = bench_model()
params = prunable_parameters(model)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
state = TrainState(model, optimizer, 0, 10)
make_scorer = lambda: METHODS["seven"].make_scorer_for(params)
pruner = GradualPruning(make_scorer, 0.7, start=0, duration=10) if sys.argv[1] == "dyn" else None
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


def _peak(variant: str, live: bool = False) -> dict:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"} if live else None
    out = subprocess.run([sys.executable, "-c", CHILD, variant], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _extra(live: bool) -> tuple[dict, float]:
    """The plain run's figures and SEVENdyn's extra peak, in fp32 copies of the prunable weights."""
    plain, dyn = _peak("plain", live), _peak("dyn", live)
    return plain, round((dyn["peak_kb"] - plain["peak_kb"]) * 1024 / plain["prunable_bytes"], 2)


def main(repeats: int = 1) -> None:
    if SETTINGS["model"] != "minilm" or SETTINGS["device"].type != "cpu":
        raise SystemExit("seven_memory measures the CPU peak RSS of MiniLM: use --model minilm --device cpu")
    (plain, extra), (_, live) = _extra(False), _extra(True)
    report("seven_memory", plain_peak_mb=round(plain["peak_kb"] / 1024, 1), extra_copies=extra,
           extra_copies_live=live, self_peak_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
           goals={"extra_copies*": "<= 3"})
