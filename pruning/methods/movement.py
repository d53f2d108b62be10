"""Movement pruning (Sanh et al. 2020), first-order form: during fine-tuning, after every
backward, S ← S − θ ⊙ g (weights moving away from zero score high). Top-k by S on the cubic
schedule; scores accumulate from the first fine-tuning step."""

import torch

from .base import Method, Scorer, Variant, register

AUTHORS = {"gradual": {"start_fraction": 0.1, "duration_fraction": 0.7}}
"""Sanh et al.'s schedule shape (SQuAD, BERT-base: no pruning for the first 5,400 steps, the
mask fixed for the last 10,800 of about 55,000), scaled to any fine-tuning. Their code keeps the
top scores of each matrix (a local top-k): the "per matrix" variant adds that allocation."""


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
    scorer=MovementScorer, scores_from_start=True, presets={"authors": AUTHORS}, variants=(
        Variant("movement", "gradual", "#d62728"),
        Variant("movement (authors' schedule)", "gradual", "#ff9896", preset="authors"),
        Variant("movement (authors' schedule, per matrix)", "gradual", "#8c1c13", preset="authors",
                allocation="module"),
    ),
))
