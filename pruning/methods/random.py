"""Random pruning: S ~ U(0, 1) i.i.d. per weight, drawn once from a generator seeded by `seed`."""

import torch

from .base import Method, Scorer


class RandomScorer(Scorer):
    uses_data = False

    def __init__(self, params, seed: int = 0):
        super().__init__(params)
        generator = torch.Generator().manual_seed(seed)
        self._scores = {name: torch.rand(p.shape, generator=generator).to(p.device) for name, p in params.items()}

    def scores(self) -> dict[str, torch.Tensor]:
        return self._scores


METHOD = Method("random", "U(0,1) per weight, seeded: the floor any method must beat", RandomScorer,
                hparams={"seed": 0})
