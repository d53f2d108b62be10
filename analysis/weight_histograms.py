"""Per weight matrix, what a run kept and what it pruned, as histograms the dashboard draws with
the threshold between them (pages never read per-weight tensors).

quantity "magnitude": log10 |θ| of the weights pruned from, bins of 0.1 over [−6, 1] (a weight
    of exactly 0, or below 1e-6, counts in the first bin);
quantity "score": the score s the masks were chosen by, on asinh(s / m) with m the median |s|
    of the matrix, bins of 0.1 over [−15, 15]: a log-like axis for both signs, so scores of
    every method (non-negative, or signed like movement's) spread out.
`threshold` is where kept and pruned separate in that quantity (NaN when they overlap: a
method that does not keep the top of that quantity, or a mask not chosen by a threshold).
"""

import numpy as np
import pandas as pd

COLUMNS = ["name", "layer", "module", "quantity", "bin_left", "bin_right", "kept", "pruned", "threshold"]
EDGES = {"magnitude": np.round(np.arange(-6.0, 1.0001, 0.1), 6), "score": np.round(np.arange(-15.0, 15.0001, 0.1), 6)}


def _axis(quantity: str, values: np.ndarray) -> np.ndarray:
    if quantity == "magnitude":
        return np.log10(np.maximum(np.abs(values), 1e-6))
    scale = np.median(np.abs(values)) or (np.abs(values).max() or 1.0)
    return np.arcsinh(values / scale)


def _threshold(kept: np.ndarray, pruned: np.ndarray) -> float:
    """Midway between the largest pruned and the smallest kept value when every kept one lies above."""
    if not len(kept) or not len(pruned) or pruned.max() > kept.min():
        return float("nan")
    return float((pruned.max() + kept.min()) / 2)


def weight_histograms(weights: dict[str, np.ndarray], masks: dict[str, np.ndarray],
                      scores: dict[str, np.ndarray] | None, where: dict[str, tuple[int, str]]) -> pd.DataFrame:
    """Rows of COLUMNS for every matrix in `masks`, in the order of `where` (name -> (layer, module))."""
    rows = []
    for name in (n for n in where if n in masks):
        keep = masks[name].reshape(-1).astype(bool)
        quantities = {"magnitude": weights[name].reshape(-1).astype(np.float64)}
        if scores is not None and name in scores:
            quantities["score"] = scores[name].reshape(-1).astype(np.float64)
        for quantity, values in quantities.items():
            axis = _axis(quantity, values)
            edges = EDGES[quantity]
            clipped = np.clip(axis, edges[0], edges[-1])
            kept, _ = np.histogram(clipped[keep], edges)
            pruned, _ = np.histogram(clipped[~keep], edges)
            threshold = _threshold(axis[keep], axis[~keep])
            layer, module = where[name]
            rows.append(pd.DataFrame({"name": name, "layer": layer, "module": module, "quantity": quantity,
                                      "bin_left": edges[:-1], "bin_right": edges[1:], "kept": kept, "pruned": pruned,
                                      "threshold": threshold}))
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=COLUMNS)
    return frame[(frame["kept"] > 0) | (frame["pruned"] > 0)].reset_index(drop=True)[COLUMNS]
