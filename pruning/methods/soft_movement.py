"""Soft movement pruning (Sanh et al. 2020): learned scores with an L1 penalty on sigmoid(S).

The mask is M = 1[S ≥ τ_t] with straight-through gradients, so ∂L/∂S = θ ⊙ g; the penalty
λ·Σ σ(S) adds λ·σ(S)(1 − σ(S)). Scores are trained with Adam at their own rate η:
    r_t = θ ⊙ g_t + λ·σ(S)(1 − σ(S)),     S ← S − η · AdamDirection(r_t)
Sanh et al. fix τ and let λ set the sparsity; to compare methods at equal sparsity, τ_t here is
the threshold that meets the cubic schedule's density (top-k by S). Weights whose saliency stays
below the penalty drift down steadily, which is what separates it from (hard) movement.
"""

from dataclasses import dataclass

import torch

from ..options import option
from .base import Method, Scorer, Variant, corrected_ratio, register
from .movement import AUTHORS


@dataclass(frozen=True)
class SoftMovementHparams:
    l1: float = option(1e-6, "L1 penalty λ on σ(S)", "[0, inf)")
    score_lr: float = option(1e-2, "Adam learning rate η of the scores", "(0, inf)")
    beta1: float = option(0.9, "Adam β1 of the scores", "[0, 1)")
    beta2: float = option(0.999, "Adam β2 of the scores", "[0, 1)")
    eps: float = option(1e-8, "Adam ε of the scores", "(0, inf)")


class SoftMovementScorer(Scorer):
    def __init__(self, params, hparams: SoftMovementHparams):
        super().__init__(params, hparams)
        h = hparams
        self.l1, self.lr, self.beta1, self.beta2, self.eps = h.l1, h.score_lr, h.beta1, h.beta2, h.eps
        self.s = {name: torch.zeros_like(p) for name, p in params.items()}
        self.m = {name: torch.zeros_like(s) for name, s in self.s.items()}
        self.v = {name: torch.zeros_like(s) for name, s in self.s.items()}
        self.t = 0

    @torch.no_grad()
    def update(self, weights=None) -> None:
        self.t += 1
        for name, p in self.params.items():
            s = self.s[name]
            sigma = torch.sigmoid(s)
            r = sigma.mul_(1 - sigma).mul_(self.l1).addcmul_(p, p.grad)  # θ⊙g + λσ(S)(1 − σ(S))
            step = corrected_ratio(r, self.m[name], self.v[name], self.t, self.beta1, self.beta2, self.eps)
            s.sub_(step, alpha=self.lr)

    def scores(self) -> dict[str, torch.Tensor]:
        return self.s


register(Method(
    "soft-movement", "Adam-trained scores with an L1 penalty on σ(S): movement that lets idle weights sink",
    needs="gradients", scorer=SoftMovementScorer, hparams=SoftMovementHparams,
    scores_from_start=True, presets={"authors": AUTHORS}, variants=(
        Variant("soft movement", "gradual", "#e377c2"),
        Variant("soft movement (authors' schedule)", "gradual", "#f7b6d2", preset="authors"),
    ),
))
