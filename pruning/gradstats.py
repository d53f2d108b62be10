"""Gradient-noise statistics over batches, in place and in O(parameters) memory.

Per weight, over N batches at fixed θ (from running sums, never storing the gradients):
    μ = Σ g / N,   σ² = Σ g² / N − μ²,   SNR = μ² / σ²,   saliency = Σ |θ ⊙ g| / N
RGV of a group G (a weight matrix, or its entries a mask keeps / prunes) between batches:
    RGV_G(t) = ‖g_t − g_{t−1}‖₁ / ‖g_{t−1}‖₁
Layer and module-type RGV sum the numerators and denominators of their matrices. The
element-wise relative variation |g_t − g_{t−1}| / |g_{t−1}| is binned on a log10 grid per
module type, on every 32nd entry. Memory: four fp32 copies of the tracked weights (Σg, Σg², Σ|θg|, g_{t−1}).
"""

from dataclasses import dataclass

import numpy as np
import torch

from .architectures import PrunableWeight

LOG10_EDGES = np.linspace(-4.0, 4.0, 41)
"""Bins of log10 relative variation; values outside are clamped into the end bins."""
HISTOGRAM_STRIDE = 32
"""The histograms read every 32nd entry of each matrix (a fixed, regular subsample): the shape of
the distribution at a small part of the cost (MiniLM: 336,384 entries a step)."""


@dataclass
class RgvTerm:
    """One matrix's RGV numerator and denominator at one step, for one subset of its entries."""

    step: int
    name: str
    subset: str
    numerator: float
    denominator: float


class GradientStats:
    """add_batch() after each backward (reads `.grad`); compute() for the per-weight statistics.

    `masks` (optional) splits RGV into the entries a mask keeps and those it prunes.
    `roles` maps a parameter name to its module type, for the histograms.
    """

    def __init__(self, params: dict[str, torch.nn.Parameter], masks: dict[str, torch.Tensor] | None = None,
                 roles: dict[str, str] | None = None, histograms: bool = True):
        self.params = params
        self.kept = {n: m.float().flatten().to(params[n].device) for n, m in masks.items()} if masks else None
        self.roles = roles or {n: "all" for n in params}
        self.sum_g = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
        self.sum_g2 = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
        self.sum_saliency = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
        self.previous: dict[str, torch.Tensor] = {}
        self.histograms = {role: np.zeros(len(LOG10_EDGES) - 1, np.int64) for role in set(self.roles.values())}
        self.with_histograms = histograms
        self.terms: list[RgvTerm] = []
        self.count = 0

    @torch.no_grad()
    def add_batch(self) -> None:
        for name, p in self.params.items():
            g = p.grad.float()
            self.sum_g[name].add_(g)
            self.sum_g2[name].addcmul_(g, g)
            self.sum_saliency[name].add_((p * g).abs_())
            if name in self.previous:
                self._variation(name, g)
                self.previous[name].copy_(g)
            else:
                self.previous[name] = g.clone()
        self.count += 1

    def _variation(self, name: str, g: torch.Tensor) -> None:
        before = self.previous[name]
        change = (g - before).abs_().flatten()
        size = before.abs().flatten()
        step = self.count
        self.terms.append(RgvTerm(step, name, "all", float(change.sum()), float(size.sum())))
        if self.kept is not None:
            kept = self.kept[name]
            kept_change, kept_size = float(change @ kept), float(size @ kept)
            self.terms.append(RgvTerm(step, name, "kept", kept_change, kept_size))
            self.terms.append(RgvTerm(step, name, "pruned", float(change.sum()) - kept_change,
                                      float(size.sum()) - kept_size))
        if self.with_histograms:
            change, size = change[::HISTOGRAM_STRIDE], size[::HISTOGRAM_STRIDE]
            nonzero = size > 0
            ratio = (change[nonzero] / size[nonzero]).log10_().clamp_(LOG10_EDGES[0], LOG10_EDGES[-1] - 1e-6)
            counts = torch.histc(ratio, bins=len(LOG10_EDGES) - 1, min=LOG10_EDGES[0], max=LOG10_EDGES[-1])
            self.histograms[self.roles[name]] += counts.long().cpu().numpy()

    def compute(self) -> dict[str, dict[str, torch.Tensor]]:
        """Per-weight mean, var, snr and saliency over the batches seen so far."""
        n = max(1, self.count)
        mean = {k: v / n for k, v in self.sum_g.items()}
        var = {k: (self.sum_g2[k] / n - mean[k] ** 2).clamp_(min=0) for k in mean}
        snr = {k: mean[k] ** 2 / var[k].clamp(min=torch.finfo(torch.float32).tiny) for k in mean}
        saliency = {k: v / n for k, v in self.sum_saliency.items()}
        return {"mean": mean, "var": var, "snr": snr, "saliency": saliency}


def rgv_table(terms: list[RgvTerm], weights: dict[str, PrunableWeight]):
    """Long table of RGV per step, layer × module (the architecture table's block; −1 outside
    the blocks) and subset."""
    import pandas as pd

    frame = pd.DataFrame([t.__dict__ for t in terms])
    if frame.empty:
        return pd.DataFrame(columns=["step", "layer", "module", "subset", "numerator", "denominator", "rgv"])
    frame["layer"] = [-1 if weights[n].layer is None else weights[n].layer for n in frame["name"]]
    frame["module"] = [weights[n].role for n in frame["name"]]
    grouped = frame.groupby(["step", "layer", "module", "subset"], as_index=False)[["numerator", "denominator"]].sum()
    grouped["rgv"] = grouped["numerator"] / grouped["denominator"].where(grouped["denominator"] > 0)
    return grouped

