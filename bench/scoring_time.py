"""Time to score one batch with each method, relative to one forward+backward step on MiniLM
(batch 32, sequence 64), all in the same process, interleaved.

A scorer's cost is one backward plus its update (GraSP: its two passes, i.e. a backward and a
double backward); a data-free one's is computing its scores. A method that chooses its masks
itself (Wanda, SparseGPT: block-by-block calibration, SparseGPT's per-layer solves) is timed
pruning from 8 batches, as a run's score_batches, and its time divided by 8; restoring the
weights between repeats is timed apart and subtracted. Ratio 1.0 = as much as the backward
every gradient method needs anyway.
"""

from pruning import METHODS, prunable_parameters, remove_masks
from pruning.modes import gradients_only_for

from .common import bench_batch, bench_model, interleaved, report

SCORE_BATCHES = 8


def main(repeats: int = 7) -> None:
    batch = bench_batch(32, 64)
    model = bench_model().eval()
    params = prunable_parameters(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()

    def restore() -> None:
        remove_masks(model)
        model.load_state_dict(state)

    def scoring(name: str):
        method = METHODS[name]
        if method.scorer is None:
            allocation = method.variants[0].allocation or "global"

            def prune_and_restore() -> None:
                method.prune_once(model, [batch] * SCORE_BATCHES, 0.5, allocation)
                restore()

            return prune_and_restore
        scorer = method.make_scorer(model)
        if method.needs == "nothing":
            return scorer.scores
        return lambda: scorer.accumulate(model, [batch])

    candidates = {"fwd_bwd": forward_backward, "restore": restore, **{name: scoring(name) for name in METHODS}}
    with gradients_only_for(model, params):
        times = interleaved(candidates, repeats)
    base, restoring = times.pop("fwd_bwd"), times.pop("restore")
    per_batch = {name: (t - restoring) / SCORE_BATCHES if METHODS[name].scorer is None else t
                 for name, t in times.items()}
    report("scoring_time", fwd_bwd_s=round(base, 4), repeats=repeats,
           **{f"ratio_{name}": round(t / base, 3) for name, t in per_batch.items()})
