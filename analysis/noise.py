"""Aggregations of the noise probe's tables: RGV per group, sentinel classes, kept shares.

RGV of a group = Σ numerators / Σ denominators of its matrices at a step (docs/ALGORITHMS.md);
a sentinel (SW) is a weight inside the saliency top set with SNR >= threshold, a temporary
sentinel (TSW) one inside it with SNR < threshold.
"""

import numpy as np
import pandas as pd

from .labels import ROLE_LABELS, ROLES, layer_label

CLASSES = ("SW", "TSW", "other")


def rgv_ratio(sums: pd.DataFrame) -> pd.Series:
    """RGV = numerator / denominator of each row; NaN where the denominator is 0 (no gradient)."""
    return sums["numerator"] / sums["denominator"].where(sums["denominator"] > 0)


def grouped_rgv(rgv: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """RGV per step and `by` (e.g. ["module", "subset"]): ratio of summed L1 norms."""
    sums = rgv.groupby(["step", *by], as_index=False)[["numerator", "denominator"]].sum()
    sums["rgv"] = rgv_ratio(sums)
    return sums.dropna(subset=["rgv"])


def with_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Sorted in display order (blocks, then the pooler; roles canonically), with readable
    `layer_name` and `module_name` columns."""
    order = {role: i for i, role in enumerate(ROLES)}
    out = frame.assign(
        _layer=frame["layer"].where(frame["layer"] >= 0, 10**6), _module=frame["module"].map(order),
        layer_name=frame["layer"].map(layer_label), module_name=frame["module"].map(ROLE_LABELS),
    )
    return out.sort_values(["_layer", "_module"], kind="stable").drop(columns=["_layer", "_module"])


def classify(sample: pd.DataFrame, snr_threshold: float = 1.0,
             log_saliency_threshold: float | None = None) -> pd.Series:
    """SW / TSW / other per sampled weight. The saliency top set is the run's own (top_saliency)
    unless a log10 saliency threshold is given."""
    if log_saliency_threshold is None:
        top = sample["top_saliency"].astype(bool)
    else:
        top = np.log10(sample["saliency"].clip(lower=1e-30)) >= log_saliency_threshold
    sentinel = sample["snr"] >= snr_threshold
    return pd.Series(np.select([top & sentinel, top & ~sentinel], ["SW", "TSW"], "other"), index=sample.index)


def kept_shares(sentinels: pd.DataFrame, method: str) -> pd.DataFrame:
    """Per layer and over all layers: the share of SW and of TSW that the run's mask keeps, and
    that SNIP's mask at the same density keeps."""
    per_layer = sentinels.groupby("layer").sum(numeric_only=True)
    per_layer = per_layer.loc[sorted(per_layer.index, key=lambda layer: (layer < 0, layer))]
    per_layer.index = [layer_label(i) for i in per_layer.index]
    per_layer.loc["all layers"] = sentinels.sum(numeric_only=True)
    rows = []
    for who, suffix in ((method, ""), ("SNIP, same density", "_snip")):
        for cls in ("SW", "TSW"):
            column = cls.lower()
            share = per_layer[f"{column}_kept{suffix}"] / per_layer[column].where(per_layer[column] > 0)
            rows.append(pd.DataFrame({"layer_name": per_layer.index, "who": who, "class": cls, "share": share.values}))
    return pd.concat(rows, ignore_index=True)
