"""Each page's main finding as one sentence computed from its data (None when nothing stands out
or the data cannot say), shown above the page's charts."""

import numpy as np
import pandas as pd

from .after_pruning import model_rgv
from .compare import seed_summary
from .labels import matrix_label
from .noise import kept_shares


def accuracy_finding(table: pd.DataFrame, metric: str = "val_accuracy") -> str | None:
    """At the highest sparsity that at least two methods share: the best and the worst method's
    mean of `metric` over seeds, the best against the dense mean."""
    stats = seed_summary(table, metric)
    dense = stats[stats["method"] == "dense"]["mean"]
    pruned = stats[stats["method"] != "dense"]
    shared = pruned.groupby("sparsity")["method"].nunique()
    shared = shared[shared >= 2]
    if shared.empty:
        return None
    at = pruned[pruned["sparsity"] == shared.index.max()].sort_values("mean", ascending=False)
    best, worst = at.iloc[0], at.iloc[-1]
    gap = 100 * (dense.iloc[0] - best["mean"]) if len(dense) else None
    reference = "" if gap is None else f", {abs(gap):.1f} points {'below' if gap >= 0 else 'above'} dense"
    return (f"At {best['sparsity']:.0%}, {best['method']} keeps the most ({best['mean']:.3f}, mean of "
            f"{int(best['seeds'])} seed{'s' if best['seeds'] > 1 else ''}{reference}); {worst['method']} the least "
            f"({worst['mean']:.3f}).")


def allocation_finding(layers: pd.DataFrame, method: str) -> str | None:
    """Which matrices the run emptied (≥ 99.9% pruned), else its most and least pruned matrix."""
    pruned = layers[layers["sparsity"] > 0]
    if pruned.empty:
        return None
    emptied = pruned[pruned["sparsity"] >= 0.999]
    if len(emptied):
        names = ", ".join(matrix_label(r.layer, r.module) for r in emptied.head(3).itertuples())
        more = f" and {len(emptied) - 3} more" if len(emptied) > 3 else ""
        return f"{method} removed 100% of {names}{more}: the model's output no longer depends on them."
    most, least = layers.loc[layers["sparsity"].idxmax()], layers.loc[layers["sparsity"].idxmin()]
    return (f"{method} pruned {matrix_label(most['layer'], most['module'])} most ({most['sparsity']:.0%}) and "
            f"{matrix_label(least['layer'], least['module'])} least ({least['sparsity']:.0%}).")


def path_finding(metrics: pd.DataFrame, tolerance: float = 0.01) -> str | None:
    """The highest read-off sparsity whose accuracy without recovery stays within `tolerance` of
    the dense model's, and the recovered accuracy at the highest recovered sparsity."""
    def rows(split):
        return metrics[(metrics["split"] == split) & (metrics["metric"] == "accuracy")].sort_values("sparsity")

    dense, readoff, recovered = rows("dense"), rows("readoff"), rows("recovered")
    if dense.empty or readoff.empty:
        return None
    reference = float(dense["value"].iloc[0])
    close = readoff[readoff["value"] >= reference - tolerance]
    text = (f"Without recovery the read-off stays within {100 * tolerance:.0f} point of dense ({reference:.3f}) up "
            f"to {close['sparsity'].max():.0%}." if len(close) else
            f"Without recovery every read-off is more than {100 * tolerance:.0f} point below dense ({reference:.3f}).")
    if len(recovered):
        last = recovered.iloc[-1]
        text += f" Recovered at {last['sparsity']:.0%}: {last['value']:.3f}."
    return text


def rgv_finding(rgv_by_run: dict[str, pd.DataFrame]) -> str | None:
    """The runs with the steadiest and the noisiest gradients after pruning: median whole-model RGV
    of the kept weights over the fine-tuning steps."""
    medians = {label: float(np.median(series["rgv"])) for label, frame in rgv_by_run.items()
               if not (series := model_rgv(frame)).empty}
    if len(medians) < 2:
        return None
    low, high = min(medians, key=medians.get), max(medians, key=medians.get)
    return (f"Steadiest gradients after pruning: {low} (median RGV {medians[low]:.2f}); noisiest: {high} "
            f"({medians[high]:.2f}).")


def sentinel_finding(sentinels: pd.DataFrame, method: str) -> str | None:
    """Over all layers, the share of SW and of TSW the run keeps against SNIP at the same density."""
    shares = kept_shares(sentinels, method)
    whole = shares[shares["layer_name"] == "all layers"].set_index(["who", "class"])["share"]
    if whole.isna().any():
        return None
    snip = "SNIP, same density"
    return (f"{method} keeps {whole[(method, 'SW')]:.0%} of the sentinels (SW) and {whole[(method, 'TSW')]:.0%} of "
            f"the temporary ones (TSW); SNIP at the same density keeps {whole[(snip, 'SW')]:.0%} and "
            f"{whole[(snip, 'TSW')]:.0%}.")


def difference_finding(layers_a: pd.DataFrame, layers_b: pd.DataFrame) -> str | None:
    """Where run B prunes most above and most below run A (per matrix, in points)."""
    joined = layers_a.set_index("name")[["layer", "module", "sparsity"]].join(
        layers_b.set_index("name")["sparsity"].rename("b"), how="inner")
    if joined.empty:
        return None
    gap = joined["b"] - joined["sparsity"]
    if float(gap.abs().max()) < 0.005:
        return "The two runs prune every matrix to within half a point of each other."
    up, down = joined.loc[gap.idxmax()], joined.loc[gap.idxmin()]
    return (f"B prunes {matrix_label(up['layer'], up['module'])} {100 * gap.max():+.1f} points against A, and "
            f"{matrix_label(down['layer'], down['module'])} {100 * gap.min():+.1f}.")


def verdict_finding(verdicts: list[str]) -> str | None:
    """How many claims held, were not held, or could not be tested here."""
    if not verdicts:
        return None
    counts = pd.Series(verdicts).value_counts()
    return f"Of {len(verdicts)} claims: " + ", ".join(f"{n} {verdict}" for verdict, n in counts.items()) + "."


def score_signs(histograms: pd.DataFrame) -> tuple[float, float] | None:
    """From a run's score histograms over every matrix (bins wholly below 0 hold negative scores):
    the share of the weights it pruned that scored below 0, and the share of all its scores below 0."""
    scores = histograms[histograms["quantity"] == "score"]
    if scores.empty or not scores["pruned"].sum():
        return None
    negative = scores["bin_right"] <= 0
    counts = scores["kept"] + scores["pruned"]
    pruned_below = scores.loc[negative, "pruned"].sum() / scores["pruned"].sum()
    return float(pruned_below), float(counts[negative].sum() / counts.sum())


def sign_finding(histograms: pd.DataFrame, method: str) -> str | None:
    """Said when the run pruned only weights whose score is negative (at least 99% of them) and a
    material share of its scores is negative: its mask follows the sign of a signed score."""
    signs = score_signs(histograms)
    if signs is None or signs[0] < 0.99 or signs[1] < 0.05:
        return None
    return (f"{method} pruned only weights whose score is negative ({signs[0]:.1%} of those it pruned; {signs[1]:.0%} "
            "of all its scores are): its score is signed, so its mask separates the weights by the sign of their "
            "score rather than by how large it is. Every method at chance on movie reviews does this (README: why "
            "GraSP, movement and soft movement sit at chance).")
