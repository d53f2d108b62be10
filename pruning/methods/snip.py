"""SNIP (Lee et al. 2019) on the pretrained weights: S = (1/N) Σ_t |θ ⊙ g_t|, the noise-blind
saliency. One-shot, or iterative (Iter-SNIP: recomputed on the masked network each round;
FORCE, de Jorge et al. 2021: the same with resurrection, pruned weights scored at their
original values)."""

import torch

from .base import Method, Scorer, Variant, register, zero_pruned


class SnipScorer(Scorer):
    def __init__(self, params, hparams=None):
        super().__init__(params, hparams)
        self.total = {name: torch.zeros_like(p, dtype=torch.float32) for name, p in params.items()}
        self.count = 0

    @torch.no_grad()
    def update(self, weights=None) -> None:
        for name, p in self.params.items():
            theta = p if weights is None else weights[name]
            self.total[name].add_((theta * p.grad).abs_())
        self.count += 1

    def scores(self) -> dict[str, torch.Tensor]:
        return {name: s / max(1, self.count) for name, s in self.total.items()}

    def forget(self, masks, removed=None) -> None:
        zero_pruned(self.total, masks, removed)


register(Method(
    "snip", "|θ⊙g| averaged over batches: sensitivity, blind to gradient noise", needs="gradients",
    scorer=SnipScorer, variants=(
        Variant("SNIP", "one-shot", "#ff7f0e"),
        Variant("Iter-SNIP", "iterative", "#e6a23c"),
        Variant("FORCE", "iterative", "#bcbd22", resurrect=True),
    ),
))
