"""Gradient-noise statistics over batches, in place and in O(parameters) memory: at fixed θ
(GradientStats, the noise probe before pruning) and during fine-tuning (StepNoise, after).

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

from analysis.noise import rgv_ratio

from .architectures import PrunableWeight
from .masks import get_masks, masks_version
from .train import Callback, TrainState

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
        self.histograms = {role: np.zeros(len(LOG10_EDGES) - 1, np.int64) for role in sorted(set(self.roles.values()))}
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
    frame["layer"] = [weights[n].table_layer for n in frame["name"]]
    frame["module"] = [weights[n].role for n in frame["name"]]
    grouped = frame.groupby(["step", "layer", "module", "subset"], as_index=False)[["numerator", "denominator"]].sum()
    grouped["rgv"] = rgv_ratio(grouped)
    return grouped



class StepNoise(Callback):
    """The pruned model's gradient noise during its fine-tuning, as the SEVEN paper measures it
    (its Fig. 2 and 5). After every backward, per matrix over the entries kept now (a pruned
    entry's gradient is 0; when the mask changes, the previous gradient is masked too):
        RGV(t) = ‖g_t − g_{t−1}‖₁ / ‖g_{t−1}‖₁          (numerator and denominator kept per step)
    and the running sums Σg, Σg² for the gradient SNR and noise scale (noise_table). The
    weights move between steps, unlike the probe's fixed θ. Memory: three fp32 copies
    (g_{t−1}, Σg, Σg²); a fused op per term over all matrices."""

    def __init__(self, weights: list[PrunableWeight]):
        self.weights = weights
        self.previous: list[torch.Tensor] | None = None
        self.previous_norms: list[torch.Tensor] = []
        self.sum_g: list[torch.Tensor] = []
        self.sum_g2: list[torch.Tensor] = []
        self.version = None
        self.rows: list[torch.Tensor] = []
        self.count = 0

    @torch.no_grad()
    def after_backward(self, state: TrainState) -> None:
        grads = [w.module.weight.grad if w.module.weight.grad is not None else torch.zeros_like(w.module.weight)
                 for w in self.weights]  # a weight the loss does not reach has no gradient: 0
        version = masks_version(state.model)
        if self.previous is None:
            self.previous = [g.detach().clone() for g in grads]
            self.sum_g = [torch.zeros_like(g) for g in grads]
            self.sum_g2 = [torch.zeros_like(g) for g in grads]
        else:
            if version != self.version and version is not None:  # newly pruned entries leave the comparison
                masks = get_masks(state.model)
                torch._foreach_mul_(self.previous, [masks[w.name] for w in self.weights])
                self.previous_norms = torch._foreach_norm(self.previous, 1)
            torch._foreach_sub_(self.previous, grads)  # in place: no new tensor per step
            change = torch._foreach_norm(self.previous, 1)
            self.rows.append(torch.stack([torch.stack(change), torch.stack(self.previous_norms)]))
            torch._foreach_copy_(self.previous, grads)
        self.version = version
        self.previous_norms = torch._foreach_norm(grads, 1)
        torch._foreach_add_(self.sum_g, grads)
        torch._foreach_addcmul_(self.sum_g2, grads, grads)
        self.count += 1

    def state(self, model) -> dict:
        """Its sums and rows, and whether the masks it last saw are still those in force."""
        current = self.version is not None and self.version == masks_version(model)
        return {"previous": self.previous, "previous_norms": self.previous_norms, "sum_g": self.sum_g,
                "sum_g2": self.sum_g2, "rows": self.rows, "count": self.count, "masks_current": current}

    def restore(self, state: dict, model) -> None:
        self.previous, self.previous_norms = state["previous"], state["previous_norms"]
        self.sum_g, self.sum_g2, self.rows, self.count = state["sum_g"], state["sum_g2"], state["rows"], state["count"]
        self.version = masks_version(model) if state["masks_current"] else None

    def rgv_table(self):
        """step (the later of the two), layer, module, numerator, denominator, rgv."""
        import pandas as pd

        rows = [dict(step=t + 1, layer=w.table_layer, module=w.role,
                     numerator=float(pair[0, i]), denominator=float(pair[1, i]))
                for t, pair in enumerate(torch.stack(self.rows).cpu() if self.rows else [])
                for i, w in enumerate(self.weights)]
        frame = pd.DataFrame(rows, columns=["step", "layer", "module", "numerator", "denominator"])
        frame["rgv"] = rgv_ratio(frame)
        return frame

    def noise(self, batch_size: int):
        """noise_table of the fine-tuning steps seen."""
        return noise_table(self.weights, self.sum_g, self.sum_g2, self.count, batch_size, "fine-tuning")


NOISE_COLUMNS = ["phase", "layer", "module", "batches", "batch_size", "trace", "signal", "snr", "b_simple"]
"""phase: "probe" (fixed θ, the weights pruned from) or "fine-tuning" (the run's own, weights moving)."""


@torch.no_grad()
def noise_table(weights: list[PrunableWeight], sum_g: list[torch.Tensor], sum_g2: list[torch.Tensor],
                batches: int, batch_size: int, phase: str):
    """Gradient SNR and noise scale per layer x module from running sums over N batches of size B
    (McCandlish et al. 2018); trace and signal add up over groups, so a whole model's are sums:
        s² = N/(N − 1)·(Σg²/N − μ²) per weight,   trace = Σ s²   (noise of one batch gradient)
        signal = ‖μ‖² − trace/N   (‖G‖², the bias of ‖μ‖² over N batches removed)
        snr = signal / trace,   B_simple = B · trace / signal = B / snr
    B_simple is the batch size above which larger batches stop paying off; signal <= 0 (noise
    drowns the mean) gives NaN."""
    import pandas as pd

    if batches < 2 or not weights:
        return pd.DataFrame(columns=NOISE_COLUMNS)
    rows = []
    n = batches
    for w, total, squares in zip(weights, sum_g, sum_g2, strict=True):
        mean = total / n
        variance = ((squares / n - mean.square()) * n / (n - 1)).clamp_(min=0)
        rows.append(dict(layer=w.table_layer, module=w.role,
                         trace=float(variance.sum()), mean_sq=float(mean.square().sum())))
    out = pd.DataFrame(rows).groupby(["layer", "module"], as_index=False)[["trace", "mean_sq"]].sum()
    out["signal"] = out["mean_sq"] - out["trace"] / n
    positive = out["signal"].where(out["signal"] > 0)
    out["snr"] = positive / out["trace"].where(out["trace"] > 0)
    out["b_simple"] = batch_size / out["snr"]
    return out.assign(phase=phase, batches=batches, batch_size=batch_size)[NOISE_COLUMNS]
