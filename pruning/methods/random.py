"""Random pruning: S ~ U(0, 1) i.i.d. per weight, from a generator seeded by `seed`."""

import torch

from ..architectures import prunable_parameters
from .base import Batches, Method, Model


def random_scores(model: Model, batches: Batches = (), seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        name: torch.rand(p.shape, generator=generator)
        for name, p in prunable_parameters(model).items()
    }


METHOD = Method("random", "U(0,1) per weight, seeded: the floor any method must beat",
                random_scores, hparams={"seed": 0})
