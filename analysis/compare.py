"""Method-vs-method numbers: seed statistics, the Pareto front, mask agreement, score ranks."""

import numpy as np
import pandas as pd

from .labels import method_order


def seed_summary(table: pd.DataFrame, metric: str = "val_accuracy") -> pd.DataFrame:
    """Per method and sparsity: mean, std, min, max of `metric` over seeds, and their count."""
    done = table[(table["status"] == "done") & table[metric].notna()]
    stats = done.groupby(["method", "sparsity"])[metric].agg(["mean", "std", "min", "max", "count"])
    return stats.reset_index().rename(columns={"count": "seeds"})


def accuracy_table(table: pd.DataFrame, metric: str = "val_accuracy") -> pd.DataFrame:
    """Methods x sparsities, each cell "mean ± std (n)" over seeds, as papers tabulate it."""
    stats = seed_summary(table, metric)
    if stats.empty:
        return pd.DataFrame()
    cell = stats.apply(lambda r: f"{r['mean']:.3f}" + (f" ± {r['std']:.3f}" if r["seeds"] > 1 else "")
                       + f" ({r['seeds']})", axis=1)
    grid = stats.assign(cell=cell, sparsity=(100 * stats["sparsity"]).round().astype(int).astype(str) + "%")
    table = grid.pivot(index="method", columns="sparsity", values="cell").fillna("")
    return table.loc[method_order(table.index)]


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """The points no other point beats on both fewer `x` and higher `y`, sorted by `x`."""
    ordered = points.sort_values([x, y], ascending=[True, False])
    best, keep = -np.inf, []
    for index, value in zip(ordered.index, ordered[y], strict=True):
        if value > best:
            keep.append(index)
            best = value
    return ordered.loc[keep]


def mask_agreement(masks: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """Jaccard |A ∩ B| / |A ∪ B| of the kept sets of every pair of methods (same weights)."""
    names = list(masks)
    tensors = sorted(set.intersection(*(set(m) for m in masks.values()))) if masks else []
    values = np.ones((len(names), len(names)))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            both = sum(np.count_nonzero(masks[a][t] & masks[b][t]) for t in tensors)
            either = sum(np.count_nonzero(masks[a][t] | masks[b][t]) for t in tensors)
            values[i, j] = values[j, i] = both / either if either else 1.0
    return pd.DataFrame(values, index=names, columns=names)


def _ranks(values: np.ndarray) -> np.ndarray:
    return pd.Series(values).rank(method="average").to_numpy()


def score_correlation(scores: dict[str, dict[str, np.ndarray]], per_tensor: int = 2000,
                      seed: int = 0) -> pd.DataFrame:
    """Spearman rank correlation of every pair of methods' scores, on the same seeded sample of
    `per_tensor` weights of each weight matrix, taken within each matrix (stored scores are
    relative to their matrix) and averaged over matrices weighted by their size."""
    names = list(scores)
    tensors = sorted(set.intersection(*(set(s) for s in scores.values()))) if scores else []
    rng = np.random.default_rng(seed)
    total = np.zeros((len(names), len(names)))
    weight = 0
    for tensor in tensors:
        size = scores[names[0]][tensor].size
        picked = rng.choice(size, min(per_tensor, size), replace=False)
        ranks = np.stack([_ranks(scores[n][tensor].ravel()[picked].astype(np.float64)) for n in names])
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.atleast_2d(np.nan_to_num(np.corrcoef(ranks), nan=0.0))  # one method: a 1 x 1 matrix
        np.fill_diagonal(rho, 1.0)
        total += size * rho
        weight += size
    return pd.DataFrame(total / max(weight, 1), index=names, columns=names)


PERCENTILE_BINS = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99, 100)
"""|θ| percentile bins within a matrix: deciles, with the largest 1% apart (outlier weights)."""


def pruned_by_magnitude(dense: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> pd.DataFrame:
    """Which weights a mask pruned, by size: every prunable weight binned by the percentile of its
    |θ| among the dense weights of its own matrix (PERCENTILE_BINS), and the share pruned in each
    bin. Magnitude pruning prunes the low bins only; random, every bin at the sparsity; a method
    that prunes many of the largest weights is removing what transformers rely on most."""
    edges = np.array(PERCENTILE_BINS[1:-1], dtype=np.float64)
    pruned = np.zeros(len(PERCENTILE_BINS) - 1)
    counts = np.zeros(len(PERCENTILE_BINS) - 1)
    for name, mask in masks.items():
        magnitude = np.abs(dense[name]).ravel()
        percentile = 100.0 * np.argsort(np.argsort(magnitude, kind="stable"), kind="stable") / magnitude.size
        bins = np.searchsorted(edges, percentile, side="right")
        counts += np.bincount(bins, minlength=len(counts))
        pruned += np.bincount(bins, weights=~mask.ravel().astype(bool), minlength=len(counts))
    return pd.DataFrame({"low": PERCENTILE_BINS[:-1], "high": PERCENTILE_BINS[1:],
                         "pruned_share": pruned / np.maximum(counts, 1)})
