"""First-order Taylor on the structured masks (Michel et al. 2019's head importance, per entry as
in LLM-Pruner): with every mask at m = 1 and the weights frozen,
    S_e = (1/B) Σ_b |m_e · ∂L_b/∂m_e|,
the first-order estimate of the loss change when entry e is removed, averaged in absolute value
over B training batches (eval mode: no dropout)."""

import torch

from ..structured import mask_gradient
from .base import Scoring, StructuredMethod, register


def taylor_scores(scoring: Scoring) -> torch.Tensor:
    gradient = mask_gradient(scoring.model, scoring.blocks, scoring.entries, scoring.batches)
    ones = torch.ones(scoring.entries.size, device=next(scoring.model.parameters()).device)
    return sum(gradient(ones).abs() for _ in range(scoring.count)) / scoring.count


register(StructuredMethod("Taylor (structured)", "|m · ∂L/∂m| at m = 1, averaged over batches", color="#1f77b4",
                          needs="gradients", score=taylor_scores))
