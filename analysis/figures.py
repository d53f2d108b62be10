"""Plotly figure builders: dataframes in, go.Figure out; each has an explicit empty state."""

import pandas as pd
import plotly.graph_objects as go

from .labels import ROLE_LABELS, ROLES, layer_label, method_color

METRIC_LABELS = {
    "val_accuracy": "validation accuracy", "test_accuracy": "test accuracy",
    "val_f1": "validation macro F1", "val_mcc": "validation MCC",
}


def empty_figure(message: str) -> go.Figure:
    """A blank chart that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font=dict(size=15), x=0.5, y=0.5,
                       xref="paper", yref="paper")
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=320)
    return fig


def accuracy_vs_sparsity(runs: pd.DataFrame, metric: str = "val_accuracy") -> go.Figure:
    """Mean (± std over seeds) of `metric` per method and sparsity, with the dense run as a line."""
    done = runs[(runs["status"] == "done") & runs[metric].notna()]
    if done.empty:
        return empty_figure("No finished runs to plot: make one, or compute the demo.")
    fig = go.Figure()
    pruned = done[done["method"] != "dense"]
    for method, group in pruned.groupby("method", sort=True):
        stats = group.groupby("sparsity")[metric].agg(["mean", "std", "count"]).reset_index()
        fig.add_trace(go.Scatter(
            x=100 * stats["sparsity"], y=stats["mean"], name=method, mode="lines+markers",
            line=dict(color=method_color(method), width=2.5), marker=dict(size=9),
            error_y=dict(type="data", array=stats["std"].fillna(0), visible=bool((stats["count"] > 1).any())),
            customdata=stats["count"],
            hovertemplate=f"{method}<br>sparsity %{{x:.0f}}%<br>{metric} %{{y:.4f}}"
                          "<br>seeds %{customdata}<extra></extra>",
        ))
    dense = done[done["method"] == "dense"][metric]
    if not dense.empty:
        fig.add_hline(y=dense.mean(), line=dict(color=method_color("dense"), dash="dash"),
                      annotation_text=f"dense {dense.mean():.3f}", annotation_position="top left")
    fig.update_layout(
        xaxis_title="sparsity of the prunable weights (%)", yaxis_title=METRIC_LABELS.get(metric, metric),
        legend_title="method", hovermode="closest", height=440, margin=dict(t=30),
    )
    fig.update_xaxes(range=[-2, 100], ticksuffix="%")
    return fig


def sparsity_grid(layers: pd.DataFrame) -> pd.DataFrame:
    """Sparsity as a layer x module table (rows in block order, pooler last; columns in role order)."""
    grid = layers.pivot_table(index="layer", columns="module", values="sparsity", aggfunc="mean")
    rows = sorted(grid.index, key=lambda layer: (layer < 0, layer))
    columns = [role for role in ROLES if role in grid.columns]
    return grid.loc[rows, columns]


def layer_sparsity_heatmap(layers: pd.DataFrame, title: str = "") -> go.Figure:
    """Heatmap of sparsity per block and module, each cell labelled with its percentage."""
    if layers.empty:
        return empty_figure("This run has no prunable weights recorded.")
    grid = sparsity_grid(layers)
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=[ROLE_LABELS[c] for c in grid.columns], y=[layer_label(r) for r in grid.index],
        zmin=0, zmax=1, colorscale="Blues", colorbar=dict(title="sparsity", tickformat=".0%"),
        text=[[("" if pd.isna(v) else f"{100 * v:.1f}%") for v in row] for row in grid.to_numpy()],
        texttemplate="%{text}", hovertemplate="%{y} · %{x}<br>sparsity %{z:.2%}<extra></extra>",
    ))
    fig.update_layout(title=title, height=120 + 42 * len(grid), margin=dict(t=40 if title else 20))
    fig.update_yaxes(autorange="reversed")
    return fig
