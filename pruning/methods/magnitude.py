"""Magnitude pruning: S = |θ|. Keeps the largest weights; needs no data.
One-shot, or gradual (cubic schedule during fine-tuning, scored on the current weights)."""

import torch

from .base import Method, Scorer


class MagnitudeScorer(Scorer):
    uses_data = False

    def scores(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().abs().clone() for name, p in self.params.items()}


METHOD = Method("magnitude", "|θ|: keep the largest weights", MagnitudeScorer,
                schedules=("one-shot", "gradual"))
