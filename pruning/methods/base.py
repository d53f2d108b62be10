"""What a pruning method is: a named score function with its hyperparameters' defaults."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

ScoreFn = Callable[..., dict[str, torch.Tensor]]
"""score(model, batches, **hparams) -> name -> Tensor shaped like the prunable parameter."""


@dataclass(frozen=True)
class Method:
    """A registered pruning method. Higher score = more important = kept."""

    name: str
    summary: str
    score: ScoreFn
    hparams: dict[str, float | int | str | bool] = field(default_factory=dict)
    uses_data: bool = False

    def check_hparams(self, given: dict) -> dict:
        """Defaults overlaid with `given`; an unknown name is a ValueError listing the known ones."""
        unknown = sorted(set(given) - set(self.hparams))
        if unknown:
            allowed = ", ".join(sorted(self.hparams)) or "none"
            raise ValueError(f"prune.hparams: {', '.join(unknown)} not known to {self.name}; allowed: {allowed}")
        return {**self.hparams, **given}


Batches = Iterable[dict[str, torch.Tensor]]
Model = nn.Module
