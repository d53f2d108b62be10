"""Magnitude pruning: S = |θ|. Keeps the largest weights; needs no data.
One-shot, or gradual (cubic schedule during fine-tuning, scored on the current weights)."""

import torch

from .base import DataFreeScorer, Method, Variant, register


class MagnitudeScorer(DataFreeScorer):
    def scores(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().abs().clone() for name, p in self.params.items()}


register(Method(
    "magnitude", "|θ|: keep the largest weights", needs="nothing", scorer=MagnitudeScorer,
    variants=(Variant("magnitude", "one-shot", "#1f77b4"), Variant("gradual magnitude", "gradual", "#9467bd")),
))
