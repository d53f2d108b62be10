"""Gradient statistics' cost on MiniLM (batch 32, sequence 64), goal <= 1.05 each:
- probe: (forward + backward + GradientStats.add_batch) / (forward + backward), with a 70% mask
  splitting kept and pruned RGV, with and without the element-wise histograms;
- fine-tuning: a masked fine-tune step (forward, backward, clipping, AdamW) with StepNoise after
  the backward (per-step RGV and the running sums of the noise scale) / the same step without."""

import copy

import torch

from pruning import apply_masks, masks_from_scores, prunable_parameters, score
from pruning.architectures import prunable_weights
from pruning.gradstats import GradientStats, StepNoise
from pruning.train import TrainState

from .common import bench_batch, bench_model, finetune_step, interleaved, report


def _tracked_step(model: torch.nn.Module, batch: dict):
    """A fine-tune step with StepNoise after the backward."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    tracker, state = StepNoise(prunable_weights(model)), TrainState(model, optimizer, 0, 0)
    return finetune_step(model, batch, optimizer, after_backward=lambda: tracker.after_backward(state))


def main(repeats: int = 7) -> None:
    batch = bench_batch(32, 64)
    model = bench_model()
    params = prunable_parameters(model)
    masks = masks_from_scores(score("magnitude", model), 0.7)
    roles = {w.name: w.role for w in prunable_weights(model)}
    full = GradientStats(params, masks, roles)
    lean = GradientStats(params, masks, roles, histograms=False)
    tuned, tracked = copy.deepcopy(model), copy.deepcopy(model)
    for m in (tuned, tracked):
        apply_masks(m, masks)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()

    times = interleaved({
        "fwd_bwd": forward_backward, "stats": lambda: (forward_backward(), full.add_batch()),
        "stats_no_hist": lambda: (forward_backward(), lean.add_batch()),
        "step": finetune_step(tuned, batch),
        "step_tracked": _tracked_step(tracked, batch),
    }, repeats)
    base = times["fwd_bwd"]
    report("rgv_overhead", fwd_bwd_s=round(base, 4), ratio=round(times["stats"] / base, 4),
           ratio_without_histograms=round(times["stats_no_hist"] / base, 4),
           fine_tune_step_s=round(times["step"], 4), ratio_fine_tuning=round(times["step_tracked"] / times["step"], 4),
           goals={"ratio*": "<= 1.05"}, repeats=repeats)
