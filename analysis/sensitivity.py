"""Reading a sensitivity scan (pruning/sensitivity.py): accuracy drop per matrix, its heatmap, and
how a pruned run's allocation lines up with it."""

import pandas as pd
import plotly.graph_objects as go

from .figures import block_heatmap, diverging, empty_figure, sparsity_grid
from .labels import ROLE_LABELS, matrix_label


def accuracy_drop(scan: pd.DataFrame, dense: float, metric: str = "accuracy") -> pd.DataFrame:
    """name, layer, module, sparsity, drop = dense − metric with that matrix alone pruned."""
    rows = scan[scan["metric"] == metric]
    return rows.assign(drop=dense - rows["value"])[["name", "layer", "module", "sparsity", "drop"]]


def sensitivity_heatmap(drops: pd.DataFrame, sparsity: float) -> go.Figure:
    """Accuracy drop (points) per block and module with that matrix alone pruned to `sparsity`:
    red where pruning it costs accuracy, blue where it helps."""
    rows = drops[drops["sparsity"] == sparsity]
    if rows.empty:
        return empty_figure(f"The scan has no matrix pruned to {sparsity:.0%}.")
    grid = 100 * sparsity_grid(rows, "drop")
    fig = block_heatmap(grid, lambda v: f"{v:+.1f}", **diverging(grid, 0.1), colorbar=dict(title="drop (points)"),
                        hovertemplate=f"%{{y}} · %{{x}} alone at {sparsity:.0%}<br>accuracy drop %{{z:+.2f}} "
                                      "points<extra></extra>")
    fig.update_layout(xaxis_title="module", yaxis_title="block")
    return fig


def drop_by_module(drops: pd.DataFrame) -> go.Figure:
    """Mean accuracy drop over blocks per module type against the sparsity it was pruned to."""
    if drops.empty:
        return empty_figure("The scan is empty.")
    mean = drops.groupby(["module", "sparsity"], as_index=False)["drop"].mean()
    fig = go.Figure([go.Scatter(x=100 * part["sparsity"], y=100 * part["drop"], mode="lines+markers",
                                name=ROLE_LABELS.get(module, module),
                                hovertemplate=f"{ROLE_LABELS.get(module, module)} at %{{x:.0f}}%<br>"
                                              "mean drop %{y:.2f} points<extra></extra>")
                     for module, part in mean.groupby("module", sort=False)])
    fig.update_layout(height=360, margin=dict(t=20), xaxis_title="sparsity of the one pruned matrix (%)",
                      yaxis_title="mean accuracy drop over blocks (points)", legend_title="module")
    return fig


def most_sensitive(drops: pd.DataFrame, sparsity: float) -> str:
    """One sentence: the matrix whose pruning alone costs the most at `sparsity`, and how many
    matrices cost less than one point there."""
    rows = drops[drops["sparsity"] == sparsity]
    if rows.empty:
        return ""
    worst = rows.loc[rows["drop"].idxmax()]
    harmless = int((rows["drop"] < 0.01).sum())
    return (f"At {sparsity:.0%}, {matrix_label(worst['layer'], worst['module'])} alone costs "
            f"{100 * worst['drop']:.1f} points; {harmless} of {len(rows)} matrices cost less than one.")


def allocation_against_sensitivity(layers: pd.DataFrame, drops: pd.DataFrame, sparsity: float) -> float | None:
    """Spearman ρ over matrices between a pruned run's per-matrix sparsity and each matrix's drop
    when pruned alone to `sparsity`: below 0, the run spared the sensitive matrices."""
    rows = drops[drops["sparsity"] == sparsity].set_index("name")["drop"]
    joined = layers.set_index("name")["sparsity"].to_frame().join(rows, how="inner")
    if len(joined) < 3 or joined["sparsity"].nunique() < 2 or joined["drop"].nunique() < 2:
        return None
    return float(joined["sparsity"].rank().corr(joined["drop"].rank()))
