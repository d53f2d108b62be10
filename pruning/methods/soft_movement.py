"""Soft movement pruning (Sanh et al. 2020): learned scores with an L1 penalty on sigmoid(S).

The mask is M = 1[S ≥ τ_t] with straight-through gradients, so ∂L/∂S = θ ⊙ g; the penalty
λ·Σ σ(S) adds λ·σ(S)(1 − σ(S)). Scores are trained with Adam at their own rate η:
    r_t = θ ⊙ g_t + λ·σ(S)(1 − σ(S)),     S ← S − η · AdamDirection(r_t)
Sanh et al. fix τ and let λ set the sparsity; to compare methods at equal sparsity, τ_t here is
the threshold that meets the cubic schedule's density (top-k by S). Weights whose saliency stays
below the penalty drift down steadily, which is what separates it from (hard) movement.
"""

import torch

from .base import Method, Scorer, corrected_ratio


class SoftMovementScorer(Scorer):
    def __init__(self, params, l1: float = 1e-6, score_lr: float = 1e-2, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(params)
        if l1 < 0 or score_lr <= 0:
            raise ValueError(f"prune.hparams: l1 ({l1}) must be >= 0 and score_lr ({score_lr}) > 0")
        self.l1, self.lr, self.beta1, self.beta2, self.eps = l1, score_lr, beta1, beta2, eps
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


METHOD = Method(
    "soft-movement", "Adam-trained scores with an L1 penalty on σ(S): movement that lets idle weights sink",
    SoftMovementScorer, hparams={"l1": 1e-6, "score_lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    schedules=("gradual",), scores_from_start=True,
)
