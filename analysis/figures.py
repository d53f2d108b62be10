"""Plotly figure builders: dataframes in, go.Figure out; each has an explicit empty state."""

from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .compare import seed_summary
from .labels import ROLE_LABELS, ROLES, layer_label, method_color, method_order

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


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def accuracy_bands(table: pd.DataFrame, metric: str = "val_accuracy",
                   x_title: str = "sparsity of the prunable weights (%)") -> go.Figure:
    """Mean of `metric` over seeds per method and sparsity, a band of ± one standard deviation,
    and the dense model's mean as a dashed line."""
    stats = seed_summary(table[table["method"] != "dense"], metric)
    if stats.empty:
        return empty_figure("No finished pruned runs in this selection.")
    fig = go.Figure()
    colors = dict(zip(table["method"], table["color"], strict=True))
    groups = dict(list(stats.groupby("method", sort=False)))
    alpha = 0.18 if len(groups) <= 4 else 0.07  # many overlapping bands turn to mud otherwise
    for method in method_order(groups):
        group = groups[method]
        x, mean, std = 100 * group["sparsity"], group["mean"], group["std"].fillna(0)
        color = colors[method]
        if (group["seeds"] > 1).any():
            upper, lower = (mean + std).clip(upper=1.0), (mean - std).clip(lower=0.0)  # metrics lie in [0, 1]
            fig.add_trace(go.Scatter(
                x=pd.concat([x, x[::-1]]), y=pd.concat([upper, lower[::-1]]), fill="toself", mode="lines",
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
    fig.update_layout(xaxis_title=x_title, yaxis_title=METRIC_LABELS.get(metric, metric), legend_title="method",
                      height=max(460, 200 + 28 * len(groups)), margin=dict(t=30))  # room for every legend entry
    fig.update_xaxes(ticksuffix="%")
    return fig


def sparsity_grid(layers: pd.DataFrame, value: str = "sparsity") -> pd.DataFrame:
    """`value` (default: sparsity) as a layer x module table (rows in block order, pooler last;
    columns in role order)."""
    grid = layers.groupby(["layer", "module"])[value].mean().unstack()  # pivot_table's result, 3x faster
    grid = grid.dropna(how="all").dropna(axis=1, how="all")
    rows = sorted(grid.index, key=lambda layer: (layer < 0, layer))
    columns = [role for role in ROLES if role in grid.columns]
    return grid.loc[rows, columns]


def block_heatmap(grid: pd.DataFrame, text: Callable[[float], str], title: str = "", **colors) -> go.Figure:
    """A block x module grid (sparsity_grid) as a heatmap, blocks down and modules across, each
    cell labelled with `text` of its value (blank where it has none); `colors`: the trace's
    scale, range, colour bar and hover."""
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=[ROLE_LABELS[c] for c in grid.columns], y=[layer_label(r) for r in grid.index],
        text=[[("" if pd.isna(v) else text(v)) for v in row] for row in grid.to_numpy()],
        texttemplate="%{text}", **colors))
    fig.update_layout(title=title, height=120 + 42 * len(grid), margin=dict(t=40 if title else 20))
    fig.update_yaxes(autorange="reversed")
    return fig


def diverging(grid: pd.DataFrame, floor: float) -> dict:
    """A red-blue scale centred on 0 and symmetric around the grid's largest |value| (at least `floor`)."""
    top = max(float(grid.abs().max().max()), floor)
    return dict(zmin=-top, zmax=top, zmid=0, colorscale="RdBu_r")


def layer_sparsity_heatmap(layers: pd.DataFrame, title: str = "", value: str = "sparsity",
                           label: str = "sparsity", colorscale: str = "Blues") -> go.Figure:
    """Heatmap of `value` (default: sparsity, 0 to 100%) per block and module, each cell
    labelled with its percentage."""
    if layers.empty:
        return empty_figure("This run has no prunable weights recorded.")
    grid = sparsity_grid(layers, value)
    top = 1.0 if value == "sparsity" else max(float(grid.max().max()), 1e-12)
    return block_heatmap(grid, lambda v: f"{100 * v:.1f}%", title, zmin=0, zmax=top, colorscale=colorscale,
                         colorbar=dict(title=label, tickformat=".0%"),
                         hovertemplate=f"%{{y}} · %{{x}}<br>{label} %{{z:.2%}}<extra></extra>")


HISTOGRAM_AXES = {"magnitude": "log10 |θ| of the weights pruned from",
                  "score": "asinh(score / median |score|) of the matrix"}


def kept_pruned_histogram(rows: pd.DataFrame, quantity: str, title: str = "") -> go.Figure:
    """Stacked kept and pruned counts of one matrix's `quantity` (weight_histograms rows), log
    counts, and the threshold between them when there is one."""
    rows = rows[rows["quantity"] == quantity]
    if rows.empty:
        return empty_figure(f"This run recorded no {quantity} histogram.")
    centre = (rows["bin_left"] + rows["bin_right"]) / 2
    width = float((rows["bin_right"] - rows["bin_left"]).iloc[0])
    fig = go.Figure([go.Bar(x=centre, y=rows[part], width=width, name=part, marker_color=color,
                            hovertemplate=f"{part}: %{{y:,}} weights<br>bin %{{x:.2f}}<extra></extra>")
                     for part, color in (("kept", "#2ca02c"), ("pruned", "#d62728"))])
    threshold = rows["threshold"].iloc[0]
    if pd.notna(threshold):
        fig.add_vline(x=float(threshold), line=dict(color="#7f7f7f", dash="dash"),
                      annotation_text="threshold", annotation_position="top right")
    fig.update_layout(barmode="stack", title=title, height=320, margin=dict(t=50, b=40),
                      xaxis_title=HISTOGRAM_AXES[quantity], yaxis=dict(title="weights", type="log"),
                      legend=dict(orientation="h", y=1.12, x=0, xanchor="left"))
    return fig


def allocation_difference(a: pd.DataFrame, b: pd.DataFrame, title: str = "") -> go.Figure:
    """Sparsity of run B minus run A per block and module (layers tables): red where B prunes more."""
    grid = sparsity_grid(b) - sparsity_grid(a)
    if grid.empty or grid.isna().all().all():
        return empty_figure("The two runs share no block and module.")
    return block_heatmap(grid, lambda v: f"{100 * v:+.1f}", title, **diverging(grid, 1e-3),
                         colorbar=dict(title="B − A", tickformat="+.0%"),
                         hovertemplate="%{y} · %{x}<br>B − A %{z:+.2%}<extra></extra>")


def training_curves(stages: dict[str, pd.DataFrame], colors: dict[str, str], smooth: int = 10) -> go.Figure:
    """A run's training history stage after stage on one step axis (a pruned run: its dense run's
    fine-tuning, then its own steps after pruning), from each stage's metrics table: the training
    loss (rolling mean over `smooth` steps) above, validation accuracy at each evaluation below, a
    dotted line where a stage begins. The first evaluation of a pruned stage is the pruned model
    before any recovery, so the drop that pruning caused and what recovery won back both show."""
    stages = {name: frame for name, frame in stages.items() if not frame.empty}
    if not stages:
        return empty_figure("This run recorded no training history.")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45])
    offset = 0
    for name, frame in stages.items():
        if offset:
            fig.add_vline(x=offset, line=dict(color="grey", dash="dot"))
        for row, split, metric in ((1, "train", "loss"), (2, "validation", "accuracy")):
            rows = frame[(frame["split"] == split) & (frame["metric"] == metric)].sort_values("step")
            y = rows["value"].rolling(smooth, min_periods=1).mean() if split == "train" else rows["value"]
            fig.add_trace(go.Scatter(
                x=offset + rows["step"], y=y, mode="lines" if split == "train" else "lines+markers", name=name,
                legendgroup=name, showlegend=row == 1, line=dict(color=colors.get(name), width=2),
                hovertemplate=f"{name}<br>step %{{x}}<br>{metric} %{{y:.3f}}<extra></extra>"), row=row, col=1)
        offset += int(frame["step"].max())
    fig.update_yaxes(title_text=f"training loss (mean of {smooth} steps)", row=1, col=1)
    fig.update_yaxes(title_text="validation accuracy", tickformat=".0%", row=2, col=1)
    fig.update_xaxes(title_text="training step, stage after stage", row=2, col=1)
    fig.update_layout(height=520, legend_title="stage", margin=dict(t=30))
    return fig
