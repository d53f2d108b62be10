"""SEVEN's cost on MiniLM (batch 32, sequence 64), against forward+backward in the same process.

- score ratio: (forward + backward + SEVEN update) / (forward + backward), for the per-tensor
  loop and the fused torch._foreach_* implementation; goal <= 1.05.
- dyn-step ratio: a full SEVENdyn step inside its window (forward, backward, SEVEN update,
  AdamW, mask recomputed to a new density and what it newly prunes zeroed, in the first steps of
  an 80-step window to 70%) over a plain fine-tune step: the one that counts for SEVENdyn;
  goal <= 1.05.
"""

import torch

from pruning import METHODS, prunable_parameters
from pruning.pruners import GradualPruning
from pruning.train import TrainState

from .common import bench_batch, bench_model, finetune_step, interleaved, report

WINDOWS = {"dyn_step_ratio": 80, "dyn_step_ratio_light": 10**6}
"""SEVENdyn's pruning window, in steps, for each timed dyn step (cubic to 70%, timed from its start):
80 as in the budget study (76 of 400 steps), so a step prunes what a real one does early in the
schedule (about 2% of the weights); 10**6, where a step prunes a few weights, isolates the cost
of scoring and re-masking every step from the cost of zeroing what is pruned."""


def _dyn_stepper(seven, batch: dict, window: int) -> dict:
    """A plain fine-tune step and a SEVENdyn step on one model of their own (once the dyn step
    has pruned, both run the masked model)."""
    model = bench_model()
    params = prunable_parameters(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-9)  # tiny lr: weights barely move
    state = TrainState(model, optimizer, 0, 10**6)
    pruner = GradualPruning(lambda: seven.make_scorer_for(params), 0.7, start=0, duration=window)

    def next_step() -> None:
        pruner.on_step_end(state)
        state.step += 1

    plain_step = finetune_step(model, batch, optimizer)  # the fine-tuning loop's step
    dyn_step = finetune_step(model, batch, optimizer, after_backward=lambda: pruner.after_backward(state),
                             after_step=next_step)
    return {"plain": plain_step, "dyn": dyn_step}


def main(repeats: int = 7) -> None:
    batch = bench_batch(32, 64)
    model = bench_model()
    params = prunable_parameters(model)
    seven = METHODS["seven"]
    loop, fused = seven.make_scorer_for(params), seven.make_scorer_for(params, foreach=True)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()

    steps = {}
    for name, window in WINDOWS.items():
        steps.update({f"{name}:{kind}": step for kind, step in _dyn_stepper(seven, batch, window).items()})
    times = interleaved({
        "fwd_bwd": forward_backward, "seven_loop": lambda: (forward_backward(), loop.update()),
        "seven_foreach": lambda: (forward_backward(), fused.update()), **steps,
    }, repeats)
    base = times["fwd_bwd"]
    report("seven_overhead", fwd_bwd_s=round(base, 4),
           ratio_loop=round(times["seven_loop"] / base, 4), ratio_foreach=round(times["seven_foreach"] / base, 4),
           **{name: round(times[f"{name}:dyn"] / times[f"{name}:plain"], 4) for name in WINDOWS},
           goals={"ratio_*": "<= 1.05", "dyn_step_ratio*": "<= 1.05"}, repeats=repeats)
