"""PLATON (Zhang et al. 2022): importance with its uncertainty, both smoothed.
After every backward during fine-tuning:
    I = |θ ⊙ g|,  Ī ← β1·Ī + (1 − β1)·I,  U ← β2·U + (1 − β2)·|I − Ī|   (Ī already updated)
    S = Ī ⊙ U
on the cubic schedule, re-masking every ΔT steps (`prune.every`); scores accumulate from the
first fine-tuning step. Pruned weights' Ī and U are dropped at each mask update."""

from dataclasses import dataclass

import torch

from ..options import option
from .base import Method, Scorer, Variant, register, zero_pruned


@dataclass(frozen=True)
class PlatonHparams:
    beta1: float = option(0.85, "EMA decay β1 of the importance Ī", "[0, 1)")
    beta2: float = option(0.95, "EMA decay β2 of the uncertainty U", "[0, 1)")


class PlatonScorer(Scorer):
    def __init__(self, params, hparams: PlatonHparams):
        super().__init__(params, hparams)
        self.mean = {name: torch.zeros_like(p) for name, p in params.items()}
        self.uncertainty = {name: torch.zeros_like(m) for name, m in self.mean.items()}

    @torch.no_grad()
    def update(self, weights=None) -> None:
        beta1, beta2 = self.hparams.beta1, self.hparams.beta2
        for name, p in self.params.items():
            importance = (p * p.grad).abs_()
            mean = self.mean[name].lerp_(importance, 1 - beta1)
            self.uncertainty[name].lerp_(importance.sub_(mean).abs_(), 1 - beta2)

    def scores(self) -> dict[str, torch.Tensor]:
        return {name: self.mean[name] * self.uncertainty[name] for name in self.params}

    def forget(self, masks, removed=None) -> None:
        zero_pruned(self.mean, masks, removed)
        zero_pruned(self.uncertainty, masks, removed)


register(Method(
    "platon", "Ī⊙U: smoothed sensitivity times its uncertainty, pruned on the cubic schedule",
    needs="gradients", scorer=PlatonScorer, hparams=PlatonHparams,
    scores_from_start=True, presets={"authors": {"gradual": {
        # the authors' SST-2 script: 1,000 steps before pruning and the mask fixed for the last 5,000
        # of about 12,630 (6 epochs at batch 32), β1 = β2 = 0.85; their ΔT = 10 of 12,630 steps
        # scales to re-masking every step
        "beta1": 0.85, "beta2": 0.85, "start_fraction": 0.08, "duration_fraction": 0.52}}},
    variants=(
        Variant("PLATON", "gradual", "#393b79"),
        Variant("PLATON (authors' schedule)", "gradual", "#6b6ecf", preset="authors"),
    ),
))
