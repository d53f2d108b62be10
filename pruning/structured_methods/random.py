"""Random structured pruning: S_e ~ U(0, 1) i.i.d. per entry, seeded by the run's seed; the floor
a structured method must beat at the same parameter budget."""

import torch

from .base import Scoring, StructuredMethod, register


def random_scores(scoring: Scoring) -> torch.Tensor:
    return torch.rand(scoring.entries.size, generator=torch.Generator().manual_seed(scoring.seed))


register(StructuredMethod("random (structured)", "U(0,1) per entry, seeded", color="#7f7f7f", needs="nothing",
                          score=random_scores))
