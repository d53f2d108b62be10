"""Random pruning: S ~ U(0, 1) i.i.d. per weight, drawn once from a generator seeded by `seed`
(the run's seed unless the config sets it)."""

from dataclasses import dataclass

import torch

from ..options import option
from .base import DataFreeScorer, Method, Variant, register


@dataclass(frozen=True)
class RandomHparams:
    seed: int = option(0, "seed of the uniform draw (default: the run's seed)", "[0, inf)")


class RandomScorer(DataFreeScorer):
    def __init__(self, params, hparams: RandomHparams):
        super().__init__(params, hparams)
        generator = torch.Generator().manual_seed(hparams.seed)
        self._scores = {name: torch.rand(p.shape, generator=generator).to(p.device) for name, p in params.items()}

    def scores(self) -> dict[str, torch.Tensor]:
        return self._scores


register(Method(
    "random", "U(0,1) per weight, seeded: the floor any method must beat", needs="nothing", scorer=RandomScorer,
    hparams=RandomHparams, variants=(Variant("random", "one-shot", "#7f7f7f"),),
))
