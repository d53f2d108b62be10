"""Lasso on the structured masks, the search the SPP paper compares with: the masks M are trained
with an L1 penalty and the weights frozen, one search per target sparsity s. Proximal gradient
(ISTA) from M = 1, with SPP's step size η = κ·α and as many steps T as one SPP search:
    M ← shrink(M − η·∇_M L, η·λ_k·p_e),   shrink(z, t) = sign(z)·max(|z| − t, 0)
with p_e = 1, the plain L1 norm of the masks (the paper's baseline). Our variant prices
parameters as the budget does, p_e = w_e / w̄ (w_e: the parameters entry e controls, w̄ their
mean); on MiniLM it empties every QK and VO dim at 50% and collapses, so it is not the default.
The penalty is set to reach s: λ_0 = 1/(η·T) (an untouched entry reaches 0 in T
steps), then λ_k = λ_{k−1}·1.05 while the parameter share of zero entries is below s·k/T (a ramp
to the target) and λ_{k−1}/1.05 while above. Score: |M_e| for entries still non-zero, and
(t_e − T)/T for entries at zero, t_e their last non-zero step (later-dying entries rank higher);
the read-off at s then meets the budget exactly."""

from collections.abc import Callable

import torch

from ..structured import mask_gradient
from .base import Scoring, StructuredMethod, register

GROWTH = 1.05


def lasso_search(gradient: Callable[[torch.Tensor], torch.Tensor], weight: torch.Tensor, steps: int, eta: float,
                 target: float, priced: bool = False) -> torch.Tensor:
    """The dynamics of the module docstring on a flat mask; `gradient(M)` returns ∇_M L, `weight`
    the parameters of each entry, `priced` p_e = w_e / w̄ (else 1). -> scores."""
    price = weight / weight.mean() if priced else torch.ones_like(weight)
    m = torch.ones_like(weight)
    alive = torch.zeros_like(weight)
    lam = 1.0 / (eta * steps)
    for k in range(1, steps + 1):
        z = m - eta * gradient(m)
        m = z.sign() * (z.abs() - eta * lam * price).clamp(min=0)
        alive[m != 0] = k
        zero_share = float(weight[m == 0].sum() / weight.sum())
        lam = lam * GROWTH if zero_share < target * k / steps else lam / GROWTH
    return torch.where(m != 0, m.abs(), (alive - steps) / steps)


def _scores(priced: bool) -> Callable[[Scoring], torch.Tensor]:
    """lasso_search on a model's masks, with SPP's step size and steps and the run's target."""

    def scores(scoring: Scoring) -> torch.Tensor:
        settings = scoring.settings
        device = next(scoring.model.parameters()).device
        weight = torch.as_tensor(scoring.entries.arrays["weight"], dtype=torch.float32, device=device)
        gradient = mask_gradient(scoring.model, scoring.blocks, scoring.entries, scoring.batches)
        return lasso_search(gradient, weight, settings["steps"], settings["kappa"] * settings["alpha"],
                            settings["target"], priced)

    return scores


register(StructuredMethod("lasso (structured)", "L1-penalised masks, one search per target sparsity",
                          color="#9467bd", needs="gradients", score=_scores(priced=False), per_target=True))
register(StructuredMethod("lasso, parameter-priced (ours)",
                          "the lasso with each mask's penalty weighted by the parameters it controls",
                          color="#c5b0d5", needs="gradients", score=_scores(priced=True), per_target=True))
