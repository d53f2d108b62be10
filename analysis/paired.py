"""Seed-paired statistics: is method A ahead of method B at a sparsity, beyond seed noise?

For A and B at one sparsity, over the seeds both ran: d_s = metric_A(s) − metric_B(s), their
mean, and a 95% percentile bootstrap interval (the seeds resampled with replacement 10,000
times from a fixed generator). The verdict reads the interval, not the mean: "ahead" if it lies
above 0, "behind" if below, else "tie"; with one seed there is no interval and no verdict
("n/a"). With n seeds a resample is one of at most C(2n − 1, n) multisets (10 for n = 3), so the
interval is close to [min d_s, max d_s]: few seeds call a difference only when every seed agrees.

Area under the accuracy-sparsity curve: the trapezoid of the seed mean over the sparsities all
compared methods ran, divided by their span, i.e. a mean accuracy over that range.
"""

import numpy as np
import pandas as pd

RESAMPLES = 10_000
MIN_SEEDS = 2
"""Fewer seeds give no interval (one difference), so no verdict: "n/a"."""
VERDICTS = ("ahead", "tie", "behind", "n/a")


def _done(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    return table[(table["status"] == "done") & table[metric].notna()]


def bootstrap_interval(differences: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of the mean of `differences` resampled with replacement."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(differences), size=(resamples, len(differences)))
    means = differences[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def verdict(low: float, high: float) -> str:
    return "ahead" if low > 0 else "behind" if high < 0 else "tie"


def paired(table: pd.DataFrame, a: str, b: str, metric: str = "val_accuracy") -> pd.DataFrame:
    """Per sparsity both methods ran: seeds, mean difference A − B, its interval and verdict."""
    done = _done(table, metric)
    wide = done[done["method"].isin([a, b])].pivot_table(index=["sparsity", "seed"], columns="method",
                                                         values=metric, aggfunc="mean")
    rows = []
    if a in wide and b in wide:
        both = wide.dropna(subset=[a, b])
        for sparsity, group in both.groupby(level="sparsity"):
            d = (group[a] - group[b]).to_numpy()
            low, high = bootstrap_interval(d)
            rows.append(dict(sparsity=sparsity, seeds=len(d), mean=float(d.mean()), low=low, high=high,
                             verdict=verdict(low, high) if len(d) >= MIN_SEEDS else "n/a", differences=d.tolist()))
    return pd.DataFrame(rows, columns=["sparsity", "seeds", "mean", "low", "high", "verdict", "differences"])


def against(table: pd.DataFrame, reference: str, metric: str = "val_accuracy") -> pd.DataFrame:
    """Every other method against `reference`: one row per method and sparsity (paired's columns)."""
    frames = [paired(table, method, reference, metric).assign(method=method)
              for method in sorted(set(_done(table, metric)["method"]) - {reference, "dense"})]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["method", "sparsity", "seeds", "mean", "low", "high", "verdict", "differences"])
    return pd.concat(frames, ignore_index=True)[["method", *frames[0].columns.drop("method")]]


def paired_grid(comparisons: pd.DataFrame, rows: str) -> pd.DataFrame:
    """`rows` x sparsity: "mean [low, high] verdict" per cell, for reading paired results."""
    if comparisons.empty:
        return pd.DataFrame()
    cell = comparisons.apply(lambda r: f"{r['mean']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}] {r['verdict']}", axis=1)
    grid = comparisons.assign(cell=cell, sparsity=(100 * comparisons["sparsity"]).round().astype(int).astype(str) + "%")
    return grid.pivot(index=rows, columns="sparsity", values="cell").fillna("")


def curve_area(table: pd.DataFrame, metric: str = "val_accuracy") -> pd.Series:
    """Per method, the mean of `metric` over the common sparsity range (trapezoid of seed means)."""
    done = _done(table, metric)
    done = done[done["method"] != "dense"]
    means = done.groupby(["method", "sparsity"])[metric].mean().unstack("sparsity")
    common = means.dropna(axis=1)
    if common.shape[1] < 2:
        return pd.Series(dtype=float, name="area")
    x = common.columns.to_numpy(dtype=float)
    area = np.trapezoid(common.to_numpy(), x, axis=1) / (x[-1] - x[0])
    return pd.Series(area, index=common.index, name="area")
