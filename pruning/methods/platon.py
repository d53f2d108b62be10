"""PLATON (Zhang et al. 2022): importance with its uncertainty, both smoothed.
After every backward during fine-tuning:
    I = |θ ⊙ g|,  Ī ← β1·Ī + (1 − β1)·I,  U ← β2·U + (1 − β2)·|I − Ī|   (Ī already updated)
    S = Ī ⊙ U
on the cubic schedule, re-masking every ΔT steps (`prune.every`); scores accumulate from the
first fine-tuning step. Pruned weights' Ī and U are dropped at each mask update."""

import torch

from .base import Method, Scorer


class PlatonScorer(Scorer):
    def __init__(self, params, beta1: float = 0.85, beta2: float = 0.95):
        super().__init__(params)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"prune.hparams.{name}: {beta} is not in [0, 1)")
        self.beta1, self.beta2 = beta1, beta2
        self.mean = {name: torch.zeros_like(p) for name, p in params.items()}
        self.uncertainty = {name: torch.zeros_like(m) for name, m in self.mean.items()}

    @torch.no_grad()
    def update(self, weights=None) -> None:
        for name, p in self.params.items():
            importance = (p * p.grad).abs_()
            mean = self.mean[name].lerp_(importance, 1 - self.beta1)
            self.uncertainty[name].lerp_(importance.sub_(mean).abs_(), 1 - self.beta2)

    def scores(self) -> dict[str, torch.Tensor]:
        return {name: self.mean[name] * self.uncertainty[name] for name in self.params}

    @torch.no_grad()
    def forget(self, masks) -> None:
        for name, mask in masks.items():
            self.mean[name].mul_(mask)
            self.uncertainty[name].mul_(mask)


METHOD = Method("platon", "Ī⊙U: smoothed sensitivity times its uncertainty, pruned on the cubic schedule",
                PlatonScorer, hparams={"beta1": 0.85, "beta2": 0.95}, schedules=("gradual",),
                scores_from_start=True)
