"""Gradient statistics' cost on MiniLM (batch 32, sequence 64): (forward + backward +
GradientStats.add_batch) / (forward + backward), with a 70% mask splitting kept and pruned RGV,
with and without the element-wise histograms; goal <= 1.05."""

from pruning import masks_from_scores, prunable_parameters, score
from pruning.architectures import prunable_weights
from pruning.gradstats import GradientStats

from .common import bench_batch, bench_model, interleaved, report


def main(repeats: int = 7) -> None:
    batch = bench_batch(32, 64)
    model = bench_model()
    params = prunable_parameters(model)
    masks = masks_from_scores(score("magnitude", model), 0.7)
    roles = {w.name: w.role for w in prunable_weights(model)}
    full = GradientStats(params, masks, roles)
    lean = GradientStats(params, masks, roles, histograms=False)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()

    times = interleaved({"fwd_bwd": forward_backward, "stats": lambda: (forward_backward(), full.add_batch()),
                         "stats_no_hist": lambda: (forward_backward(), lean.add_batch())}, repeats)
    base = times["fwd_bwd"]
    report("rgv_overhead", fwd_bwd_s=round(base, 4), ratio=round(times["stats"] / base, 4),
           ratio_without_histograms=round(times["stats_no_hist"] / base, 4), goal=1.05, repeats=repeats)
