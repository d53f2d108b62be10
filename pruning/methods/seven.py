"""SEVEN (sentinel weights): score weights by Adam-style corrected gradients.

Per weight, over steps t = 1, 2, … (gradients taken with the current mask, at the θ they
were taken at):
    a_t = |g_t|  (variant "abs", the authors' code)   or   a_t = g_t  (variant "signed", the paper)
    m_t = β1·m_{t−1} + (1 − β1)·a_t          v_t = β2·v_{t−1} + (1 − β2)·a_t²
    c_t = (m_t / (1 − β1^t)) / (sqrt(v_t / (1 − β2^t)) + ε)
    S  += |θ ⊙ c_t ⊙ g_t|
(`correction` "first": c_t = m_t / (1 − β1^t); "second": c_t = 1 / (sqrt(v_t / (1 − β2^t)) + ε),
the paper's Table IV ablation.)
c_t ≈ 1 for a weight whose gradient is steady, ≈ 0 for a noisy one, so S prefers weights that
are consistently important (sentinels) over those important on some batches only.
Pruned weights' m, v and S are reset to 0 at every mask update (no resurrection).
Iterative schedule = SEVENpre (Algorithm 1); gradual schedule = SEVENdyn (Algorithm 2).
"""

from dataclasses import dataclass

import torch

from ..options import option
from .base import Method, Scorer, Variant, corrected_ratio, register, zero_pruned

PRESETS = {
    # the paper (BERT-base on GLUE, CLIP): SEVENpre's (β1, β2); SEVENdyn's (β1, β2) and its window
    # (t_i, N_p) in steps, where the paper gives them
    "sst-2": {"iterative": {"beta1": 0.5, "beta2": 0.7},
              "gradual": {"beta1": 0.8, "beta2": 0.8, "start": 1000, "duration": 4000}},
    "mrpc": {"iterative": {"beta1": 0.8, "beta2": 0.9},
             "gradual": {"beta1": 0.7, "beta2": 0.9, "start": 300, "duration": 600}},
    "rte": {"iterative": {"beta1": 0.8, "beta2": 0.9},
            "gradual": {"beta1": 0.8, "beta2": 0.8, "start": 200, "duration": 1000}},
    "cola": {"iterative": {"beta1": 0.8, "beta2": 0.9}, "gradual": {"start": 500, "duration": 1000}},
    "sts-b": {"iterative": {"beta1": 0.8, "beta2": 0.9}, "gradual": {"start": 500, "duration": 2000}},
    "qnli": {"iterative": {"beta1": 0.1, "beta2": 0.2},
             "gradual": {"beta1": 0.8, "beta2": 0.9, "start": 2000, "duration": 10000}},
    "mnli": {"iterative": {"beta1": 0.1, "beta2": 0.2},
             "gradual": {"beta1": 0.7, "beta2": 0.9, "start": 5400, "duration": 16600}},
    "clip": {"iterative": {"beta1": 0.8, "beta2": 0.9}, "gradual": {"beta1": 0.8, "beta2": 0.9}},
    # SEVENdyn's SST-2 shape scaled to any fine-tuning: t_i = 1,000 and N_p = 4,000 of 21,050 steps
    # (10 epochs of 67,349 examples at batch 32), then the mask stays fixed for the last 76%
    "authors": {"gradual": {"beta1": 0.8, "beta2": 0.8, "start_fraction": 0.048, "duration_fraction": 0.19}},
}


@dataclass(frozen=True)
class SevenHparams:
    beta1: float = option(0.8, "decay β1 of the first moment m", "[0, 1)")
    beta2: float = option(0.9, "decay β2 of the second moment v", "[0, 1)")
    eps: float = option(1e-9, "ε in c = m̂ / (√v̂ + ε)", "(0, inf)")
    variant: str = option("abs", "moments of |g| (the authors' code) or of g (the paper)", ("abs", "signed"))
    correction: str = option("both", "c = m̂/(√v̂ + ε) (both), m̂ alone (first) or 1/(√v̂ + ε) alone (second): "
                                     "the paper's Table IV ablation", ("both", "first", "second"))
    foreach: bool = option(False, "one fused torch._foreach_* op per term instead of a per-tensor loop "
                                  "(correction both only)")


class SevenScorer(Scorer):
    """`foreach`: one fused torch._foreach_* op over all tensors per term, or (default) a loop
    that finishes each tensor while it is in cache and allocates one tensor-sized scratch at a
    time (bench/seven_overhead.py measures both). S_t = Σ|c⊙g⊙θ| only grows."""

    growing = True

    def __init__(self, params, hparams: SevenHparams):
        super().__init__(params, hparams)
        h = hparams
        self.beta1, self.beta2, self.eps, self.variant = h.beta1, h.beta2, h.eps, h.variant
        self.correction, self.foreach = h.correction, h.foreach and h.correction == "both"
        self.names = list(params)
        self.m = [torch.zeros_like(p) for p in params.values()]
        self.v = [torch.zeros_like(p) for p in params.values()]
        self.total = [torch.zeros_like(p) for p in params.values()]
        self.t = 0

    @torch.no_grad()
    def update(self, weights=None) -> None:
        self.t += 1
        grads = [p.grad for p in self.params.values()]
        weights = list((weights or self.params).values())
        if self.foreach:
            self._update_foreach(grads, weights)
        else:
            for state in zip(grads, weights, self.m, self.v, self.total, strict=True):
                self._update_one(*state)

    def _update_one(self, g, theta, m, v, total) -> None:
        a = g.abs() if self.variant == "abs" else g
        c = self._coefficient(a, m, v, out=a if a is not g else None)
        if self.correction == "both" and self.variant == "abs":  # c >= 0: S += s1·c'·|θ⊙g|, c' = c / s1
            total.addcmul_(c, theta.mul(g).abs_(), value=1 / (1 - self.beta1**self.t))
        else:
            total.add_(c.mul_(g).mul_(theta).abs_())

    def _coefficient(self, a, m, v, out) -> torch.Tensor:
        """c_t of the chosen correction, after the moments take `a` (in place); for "both" with
        "abs" without its 1/(1 − β1^t) factor, which _update_one applies in its last op."""
        if self.correction == "both" and self.variant == "abs":
            m.lerp_(a, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(a, a, value=1 - self.beta2)
            ratio = torch.mul(v, 1 / (1 - self.beta2**self.t), out=out).sqrt_().add_(self.eps)
            return torch.div(m, ratio, out=ratio)
        if self.correction == "both":
            return corrected_ratio(a, m, v, self.t, self.beta1, self.beta2, self.eps, out=out)
        m.lerp_(a, 1 - self.beta1)
        v.mul_(self.beta2).addcmul_(a, a, value=1 - self.beta2)
        if self.correction == "first":
            return torch.div(m, 1 - self.beta1**self.t, out=out)
        return torch.div(v, 1 - self.beta2**self.t, out=out).sqrt_().add_(self.eps).reciprocal_()

    def _update_foreach(self, grads, weights) -> None:
        a = torch._foreach_abs(grads) if self.variant == "abs" else grads
        torch._foreach_lerp_(self.m, a, 1 - self.beta1)
        torch._foreach_mul_(self.v, self.beta2)
        torch._foreach_addcmul_(self.v, a, a, value=1 - self.beta2)
        denominator = torch._foreach_div(self.v, 1 - self.beta2**self.t)
        torch._foreach_sqrt_(denominator)
        torch._foreach_add_(denominator, self.eps)
        corrected = torch._foreach_div(self.m, 1 - self.beta1**self.t)
        torch._foreach_div_(corrected, denominator)
        torch._foreach_mul_(corrected, grads)
        torch._foreach_mul_(corrected, weights)
        torch._foreach_abs_(corrected)
        torch._foreach_add_(self.total, corrected)

    def scores(self) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, self.total, strict=True))

    def forget(self, masks, removed=None) -> None:
        for state in (self.m, self.v, self.total):
            zero_pruned(dict(zip(self.names, state, strict=True)), masks, removed)


register(Method(
    "seven", "Adam-corrected |θ⊙ĝ|: keeps weights whose gradients are steady (sentinels)", needs="gradients",
    scorer=SevenScorer, hparams=SevenHparams, presets=PRESETS,
    variants=(
        Variant("SEVENpre", "iterative", "#2ca02c"),
        Variant("SEVENdyn", "gradual", "#17becf"),
        Variant("SEVENdyn (authors' schedule)", "gradual", "#0b7285", preset="authors"),
        Variant("SEVENpre (signed)", "iterative", "#8fd175", hparams={"variant": "signed"}),
        Variant("SEVENpre (first moment only)", "iterative", "#5c8a3a", hparams={"correction": "first"}),
        Variant("SEVENpre (second moment only)", "iterative", "#1b4d1b", hparams={"correction": "second"}),
        Variant("SEVENpre + resurrection", "iterative", "#b5cf6b", resurrect=True),
    ),
))
