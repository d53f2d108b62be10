"""The noise probe: gradient statistics at the weights a run was pruned from, against its mask.

N probe batches (a stream seeded apart from training, the same for every run of a study) at
fixed θ, eval mode, no mask. From GradientStats it keeps, bounded in size:
- rgv:        RGV per step x layer x module, for all weights and the run's kept / pruned ones
- histograms: element-wise relative gradient variation per module (log10 bins)
- sample:     a seeded sample of weights: saliency E|θ⊙g|, SNR μ²/σ², kept by the run, by SNIP
- noise:      gradient SNR and noise scale B_simple per layer x module (phase "probe")
- sentinels:  per layer x module, among the weights that mean saliency keeps at the run's
              density: sentinels (SW, SNR >= threshold) and temporary sentinels (TSW, SNR <
              threshold), and how many of each the run's mask and SNIP's mask keep.
SNIP's mask is SNIP on the run's own scoring batches at the same density and allocation,
i.e. the mask a one-shot SNIP run with the same seed would choose.
"""

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .architectures import prunable_weights
from .data import Encoded
from .gradstats import LOG10_EDGES, GradientStats, noise_table, rgv_table
from .masks import masks_from_scores
from .methods import METHODS
from .methods.base import accumulate, backward_on
from .modes import evaluating, gradients_only_for
from .train import endless_batches

PROBE_SEED_OFFSET = 7919
"""The probe stream's seed is the split seed plus this: it never mirrors the scoring stream."""


@dataclass
class ProbeResult:
    rgv: pd.DataFrame
    histograms: pd.DataFrame
    sample: pd.DataFrame
    sentinels: pd.DataFrame
    noise: pd.DataFrame


def probe_gradients(model: torch.nn.Module, train: Encoded, batches: int, batch_size: int,
                    split_seed: int) -> Iterator[dict[str, torch.Tensor]]:
    """The probe's gradients of the prunable weights, batch after batch (eval mode, fixed θ; each
    dict is fresh, so a caller may keep them to replay)."""
    params = {w.name: w.module.get_parameter("weight") for w in prunable_weights(model)}
    stream = endless_batches(train, batch_size, split_seed + PROBE_SEED_OFFSET)
    with evaluating(model), gradients_only_for(model, params):
        for batch in itertools.islice(stream, batches):
            backward_on(model, batch)
            yield {name: p.grad.detach().clone() for name, p in params.items()}
    model.zero_grad(set_to_none=True)


def snip_reference(model: torch.nn.Module, score_batches: list[dict]) -> dict[str, torch.Tensor]:
    """SNIP's scores on a run's own scoring batches: the noise-blind reference at equal density."""
    return accumulate(METHODS["snip"].make_scorer(model), model, score_batches).scores()


def probe(model: torch.nn.Module, gradients: Iterable[dict[str, torch.Tensor]], masks: dict[str, torch.Tensor] | None,
          *, batch_size: int, snip: dict[str, torch.Tensor] | None, sparsity: float, allocation: str,
          snr_threshold: float = 1.0, sample_size: int = 20_000, sample_seed: int = 0) -> ProbeResult:
    """Gradient noise of `model` at its current weights from its probe `gradients`
    (probe_gradients), split by `masks` (None: a dense run); `snip`: the SNIP reference scores
    (None: nothing pruned)."""
    weights = prunable_weights(model)
    table = {w.name: w for w in weights}
    params = {w.name: w.module.get_parameter("weight") for w in weights}
    stats = GradientStats(params, masks, {w.name: w.role for w in weights})
    for step in gradients:
        for name, p in params.items():
            p.grad = step[name]
        stats.add_batch()
    model.zero_grad(set_to_none=True)
    moments = stats.compute()
    density_masks = masks or {n: torch.ones_like(p, dtype=torch.bool) for n, p in params.items()}
    snip = snip if snip is not None else {n: torch.ones_like(p) for n, p in params.items()}
    snip_masks = masks_from_scores(snip, sparsity, allocation, weights=table)
    top = masks_from_scores(moments["saliency"], sparsity, allocation, weights=table)
    histograms = pd.DataFrame([
        dict(module=role, bin_left=LOG10_EDGES[i], bin_right=LOG10_EDGES[i + 1], count=int(c))
        for role, counts in stats.histograms.items() for i, c in enumerate(counts)
    ])
    return ProbeResult(
        rgv=rgv_table(stats.terms, table),
        histograms=histograms,
        sample=_sample(weights, moments, density_masks, snip_masks, top, sample_size, sample_seed),
        sentinels=_sentinels(weights, moments["snr"], top, density_masks, snip_masks, snr_threshold),
        noise=noise_table(weights, [stats.sum_g[w.name] for w in weights], [stats.sum_g2[w.name] for w in weights],
                          stats.count, batch_size, "probe"),
    )


def _sentinels(weights, snr, top, kept, snip, threshold) -> pd.DataFrame:
    rows = []
    for w in weights:
        n = w.name
        sentinel = top[n] & (snr[n] >= threshold)
        temporary = top[n] & (snr[n] < threshold)
        rows.append(dict(
            layer=w.table_layer, module=w.role, weights=top[n].numel(),
            top=int(top[n].sum()), sw=int(sentinel.sum()), tsw=int(temporary.sum()),
            sw_kept=int((sentinel & kept[n]).sum()), tsw_kept=int((temporary & kept[n]).sum()),
            sw_kept_snip=int((sentinel & snip[n]).sum()), tsw_kept_snip=int((temporary & snip[n]).sum()),
        ))
    return pd.DataFrame(rows)


def _sample(weights, moments, kept, snip, top, size, seed) -> pd.DataFrame:
    """A uniform, seeded sample of individual weights with their statistics and fates."""
    sizes = np.array([w.module.weight.numel() for w in weights])
    total = int(sizes.sum())
    picks = np.sort(np.random.default_rng(seed).choice(total, size=min(size, total), replace=False))
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    frames = []
    for i, w in enumerate(weights):
        local = picks[(picks >= offsets[i]) & (picks < offsets[i + 1])] - offsets[i]
        index = torch.from_numpy(local).to(w.module.weight.device)

        def take(values: torch.Tensor, index=index) -> np.ndarray:
            return values.flatten()[index].cpu().numpy()

        frames.append(pd.DataFrame({
            "layer": w.table_layer, "module": w.role, "index": local,
            **{key: take(moments[key][w.name]) for key in ("saliency", "snr", "mean", "var")},
            "kept": take(kept[w.name]), "kept_snip": take(snip[w.name]), "top_saliency": take(top[w.name]),
        }))
    return pd.concat(frames, ignore_index=True)
