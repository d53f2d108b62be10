"""Time to score one batch with each method, relative to one forward+backward step on MiniLM
(batch 32, sequence 64), all in the same process, interleaved.

A data method's cost is one backward plus its update (GraSP: its two passes, i.e. a backward
and a double backward); a data-free one's is computing its scores. Ratio 1.0 = the scoring
adds nothing to the backward every method needs anyway.
"""

from pruning import METHODS, prunable_parameters
from pruning.methods.base import gradients_only_for

from .common import bench_batch, bench_model, interleaved, report


def main(repeats: int = 7) -> None:
    batch = bench_batch(32, 64)
    model = bench_model().eval()
    params = prunable_parameters(model)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()

    def scoring(name: str):
        method = METHODS[name]
        scorer = method.make_scorer(model)
        if not method.uses_data:
            return scorer.scores
        return lambda: scorer.accumulate(model, [batch])

    candidates = {"fwd_bwd": forward_backward, **{name: scoring(name) for name in METHODS}}
    with gradients_only_for(model, params):
        times = interleaved(candidates, repeats)
    base = times.pop("fwd_bwd")
    report("scoring_time", fwd_bwd_s=round(base, 4), repeats=repeats,
           **{f"ratio_{name}": round(t / base, 3) for name, t in times.items()})
