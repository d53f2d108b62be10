"""Movement pruning (Sanh et al. 2020), first-order form: during fine-tuning, after every
backward, S ← S − θ ⊙ g (weights moving away from zero score high). Top-k by S on the cubic
schedule; scores accumulate from the first fine-tuning step."""

import torch

from .base import Method, Scorer, Variant, register


class MovementScorer(Scorer):
    def __init__(self, params, hparams=None):
        super().__init__(params, hparams)
        self.total = {name: torch.zeros_like(p) for name, p in params.items()}

    @torch.no_grad()
    def update(self, weights=None) -> None:
        for name, p in self.params.items():
            self.total[name].addcmul_(p, p.grad, value=-1.0)

    def scores(self) -> dict[str, torch.Tensor]:
        return self.total


register(Method(
    "movement", "−Σ θ⊙g during fine-tuning: keep weights moving away from zero", needs="gradients",
    scorer=MovementScorer, variants=(Variant("movement", "gradual", "#d62728"),), scores_from_start=True,
))
