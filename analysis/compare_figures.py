"""Figures of the Compare page: accuracy with seed bands, Pareto view, allocation small
multiples on one colour scale, and method x method agreement matrices."""

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .compare import pareto_front, seed_summary
from .figures import METRIC_LABELS, empty_figure, sparsity_grid
from .labels import ROLE_LABELS, layer_label, method_color, method_order


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def accuracy_bands(table: pd.DataFrame, metric: str = "val_accuracy") -> go.Figure:
    """Mean of `metric` over seeds per method and sparsity, a band of ± one standard deviation,
    and the dense model's mean as a dashed line."""
    stats = seed_summary(table[table["method"] != "dense"], metric)
    if stats.empty:
        return empty_figure("No finished pruned runs in this selection.")
    fig = go.Figure()
    groups = dict(list(stats.groupby("method", sort=False)))
    alpha = 0.18 if len(groups) <= 4 else 0.07  # many overlapping bands turn to mud otherwise
    for method in method_order(groups):
        group = groups[method]
        x, mean, std = 100 * group["sparsity"], group["mean"], group["std"].fillna(0)
        color = method_color(method)
        if (group["seeds"] > 1).any():
            upper, lower = (mean + std).clip(upper=1.0), (mean - std).clip(lower=0.0)  # metrics lie in [0, 1]
            fig.add_trace(go.Scatter(
                x=pd.concat([x, x[::-1]]), y=pd.concat([upper, lower[::-1]]), fill="toself",
                fillcolor=_rgba(color, alpha), line=dict(width=0), hoverinfo="skip", showlegend=False,
                legendgroup=method,
            ))
        fig.add_trace(go.Scatter(
            x=x, y=mean, name=method, legendgroup=method, mode="lines+markers",
            line=dict(color=color, width=2.5), marker=dict(size=8),
            customdata=group[["std", "seeds"]].fillna(0).to_numpy(),
            hovertemplate=f"{method}<br>sparsity %{{x:.0f}}%<br>mean %{{y:.4f}} ± %{{customdata[0]:.4f}}"
                          "<br>seeds %{customdata[1]}<extra></extra>",
        ))
    dense = table[(table["method"] == "dense") & (table["status"] == "done")][metric].dropna()
    if not dense.empty:
        fig.add_hline(y=dense.mean(), line=dict(color=method_color("dense"), dash="dash"),
                      annotation_text=f"dense {dense.mean():.3f}", annotation_position="bottom left")
    fig.update_layout(xaxis_title="sparsity of the prunable weights (%)",
                      yaxis_title=METRIC_LABELS.get(metric, metric), legend_title="method", height=460,
                      margin=dict(t=30))
    fig.update_xaxes(ticksuffix="%")
    return fig


def pareto_view(table: pd.DataFrame, metric: str = "val_accuracy") -> go.Figure:
    """Every run as accuracy vs the prunable weights it keeps; the dashed line is the front no
    run beats with fewer weights and higher accuracy."""
    done = table[(table["status"] == "done") & table[metric].notna() & table["kept_weights"].notna()]
    if done.empty:
        return empty_figure("No finished runs in this selection.")
    fig = go.Figure()
    groups = dict(list(done.groupby("method", sort=False)))
    for method in method_order(groups):
        group = groups[method]
        fig.add_trace(go.Scatter(
            x=group["kept_weights"], y=group[metric], name=method, mode="markers",
            marker=dict(color=method_color(method), size=9, line=dict(width=0.5, color="white")),
            customdata=group[["sparsity", "seed"]].to_numpy(),
            hovertemplate=f"{method}<br>%{{x:.3~s}} weights kept (sparsity %{{customdata[0]:.0%}})"
                          f"<br>seed %{{customdata[1]}}<br>{metric} %{{y:.4f}}<extra></extra>",
        ))
    front = pareto_front(done, "kept_weights", metric)
    fig.add_trace(go.Scatter(x=front["kept_weights"], y=front[metric], mode="lines", name="Pareto front",
                             line=dict(color="#444", dash="dot", shape="hv")))
    fig.update_layout(xaxis_title="prunable weights kept", yaxis_title=METRIC_LABELS.get(metric, metric),
                      height=440, margin=dict(t=30), legend_title="method")
    fig.update_xaxes(tickformat="~s")
    return fig


def allocation_multiples(layers_by_method: dict[str, pd.DataFrame], columns: int = 4) -> go.Figure:
    """One layer x module sparsity heatmap per method, all on one colour scale (0 to 100%)."""
    if not layers_by_method:
        return empty_figure("No run at this sparsity and seed.")
    names = list(layers_by_method)
    rows = -(-len(names) // columns)
    height = 40 + 340 * rows
    fig = make_subplots(rows=rows, cols=min(columns, len(names)), subplot_titles=names,
                        horizontal_spacing=0.03, vertical_spacing=min(0.3, 110 / height), shared_yaxes=True)
    for i, name in enumerate(names):
        grid = sparsity_grid(layers_by_method[name])
        fig.add_trace(go.Heatmap(
            z=grid.to_numpy(), x=[ROLE_LABELS[c] for c in grid.columns], y=[layer_label(r) for r in grid.index],
            coloraxis="coloraxis", name=name,
            hovertemplate=f"{name}<br>%{{y}} · %{{x}}<br>sparsity %{{z:.1%}}<extra></extra>",
        ), row=i // columns + 1, col=i % columns + 1)
    fig.update_layout(coloraxis=dict(colorscale="Blues", cmin=0, cmax=1,
                                     colorbar=dict(title="sparsity", tickformat=".0%")),
                      height=height, margin=dict(t=40))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-45)
    return fig


def agreement_matrix(matrix: pd.DataFrame, title: str, zmin: float = 0.0) -> go.Figure:
    """A method x method matrix (Jaccard or Spearman), each cell labelled with its value."""
    if matrix.empty or len(matrix) < 2:
        return empty_figure("Pick at least two methods with runs at this sparsity and seed.")
    fig = go.Figure(go.Heatmap(
        z=matrix.to_numpy(), x=list(matrix.columns), y=list(matrix.index), zmin=zmin, zmax=1,
        colorscale="Viridis", text=matrix.round(2).astype(str).to_numpy(), texttemplate="%{text}",
        hovertemplate="%{y} vs %{x}: %{z:.3f}<extra></extra>", colorbar=dict(title=title.split()[0]),
    ))
    fig.update_layout(title=title, height=140 + 38 * len(matrix), margin=dict(t=50))
    fig.update_yaxes(autorange="reversed")
    return fig
