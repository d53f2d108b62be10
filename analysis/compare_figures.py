"""Figures of the Compare page: Pareto view, allocation small multiples on one colour scale,
method x method agreement matrices and training losses (accuracy with seed bands is in
figures.py)."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .compare import pareto_front
from .figures import METRIC_LABELS, empty_figure, sparsity_grid
from .labels import ROLE_LABELS, layer_label, method_order


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
            marker=dict(color=group["color"].iloc[0], size=9, line=dict(width=0.5, color="white")),
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
    grids = {}
    for name, layers in layers_by_method.items():
        grid = sparsity_grid(layers)
        grids[name] = grid.set_axis([ROLE_LABELS[c] for c in grid.columns], axis=1).set_axis(
            [layer_label(r) for r in grid.index], axis=0)
    return heatmap_multiples(grids, "sparsity", "Blues", columns)


def heatmap_multiples(grids: dict[str, pd.DataFrame], value: str, colorscale: str, columns: int = 4) -> go.Figure:
    """One heatmap per name (rows x columns of each frame, already labelled), all on one colour
    scale from 0 to 100% of `value`. Drawn as a single heatmap trace whose panels are separated by
    empty cells, labelled by shared ticks and a title each: 19 subplots of their own took ten times
    as long to build and twice as long to draw."""
    rows = list(dict.fromkeys(label for grid in grids.values() for label in grid.index))
    cols = list(dict.fromkeys(label for grid in grids.values() for label in grid.columns))
    if not rows or not cols:
        return empty_figure("No run at this sparsity and seed.")
    names = list(grids)
    across, down = min(columns, len(names)), -(-len(names) // columns)
    step_x, step_y = len(cols) + 1, len(rows) + 2  # a blank column between panels, two blank rows for titles
    z = np.full((down * step_y - 2, across * step_x - 1), np.nan)
    custom = np.full((*z.shape, 3), "", dtype=object)
    titles = []
    for i, name in enumerate(names):
        top, left = i // columns * step_y, i % columns * step_x
        cells = np.s_[top:top + len(rows), left:left + len(cols)]
        z[cells] = grids[name].reindex(index=rows, columns=cols).to_numpy(dtype=float)
        custom[cells] = [[(name, str(row), str(col)) for col in cols] for row in rows]
        titles.append(dict(x=left + (len(cols) - 1) / 2, y=top - 0.5, text=name, showarrow=False, yanchor="bottom"))
    fig = go.Figure(go.Heatmap(
        z=z, customdata=custom, coloraxis="coloraxis", hoverongaps=False, name=value,
        hovertemplate=f"%{{customdata[0]}}<br>%{{customdata[1]}} · %{{customdata[2]}}<br>{value} %{{z:.1%}}"
                      "<extra></extra>",
    ))
    fig.update_layout(coloraxis=dict(colorscale=colorscale, cmin=0, cmax=1,
                                     colorbar=dict(title=value, tickformat=".0%")),
                      height=40 + 340 * down, margin=dict(t=40), annotations=titles, plot_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(tickvals=[c * step_x + j for c in range(across) for j in range(len(cols))],
                     ticktext=[str(col) for col in cols] * across, tickangle=-45, showgrid=False, zeroline=False)
    fig.update_yaxes(tickvals=[r * step_y + j for r in range(down) for j in range(len(rows))],
                     ticktext=[str(row) for row in rows] * down, autorange="reversed", showgrid=False, zeroline=False)
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


def training_loss(losses: dict[str, pd.DataFrame], colors: dict[str, str], windows: dict[str, list],
                  smooth: int = 10) -> go.Figure:
    """Each run's training loss during its fine-tuning (step, value; a rolling mean over `smooth`
    steps), with the window a gradual method prunes over drawn as a band in its colour: a method
    that collapses shows at which step, and whether it was pruning then."""
    losses = {label: frame for label, frame in losses.items() if not frame.empty}
    if not losses:
        return empty_figure("These runs recorded no training loss.")
    fig = go.Figure()
    for label, frame in losses.items():
        ordered = frame.sort_values("step")
        fig.add_trace(go.Scatter(x=ordered["step"], y=ordered["value"].rolling(smooth, min_periods=1).mean(),
                                 mode="lines", name=label, line=dict(color=colors.get(label), width=2)))
        if label in windows:
            start, end = windows[label]
            fig.add_vrect(x0=start, x1=end, fillcolor=colors.get(label), opacity=0.08, line_width=0)
    fig.update_layout(height=420, xaxis_title="fine-tuning step", yaxis_title=f"training loss (mean of {smooth} steps)",
                      legend_title="run", margin=dict(t=30))
    return fig


def pruned_by_size(profiles: dict[str, pd.DataFrame], colors: dict[str, str], sparsity: float) -> go.Figure:
    """The share of weights each run pruned per |θ| percentile bin of their matrix
    (compare.pruned_by_magnitude), with the level random pruning sits at."""
    if not profiles:
        return empty_figure("Needs the runs' masks and their dense run's weights (shipped runs carry neither).")
    fig = go.Figure()
    for label, profile in profiles.items():
        bins = [f"{low}–{high}" for low, high in zip(profile["low"], profile["high"], strict=True)]
        fig.add_trace(go.Scatter(x=bins, y=profile["pruned_share"], mode="lines+markers", name=label,
                                 line=dict(color=colors.get(label), width=2)))
    fig.add_hline(y=sparsity, line_dash="dash", line_color="grey",
                  annotation_text=f"random: {sparsity:.0%} of every bin", annotation_position="top left")
    fig.update_layout(height=420, yaxis=dict(title="share of the bin pruned", range=[0, 1.02], tickformat=".0%"),
                      xaxis_title="|θ| percentile within its matrix (dense weights)", legend_title="run",
                      margin=dict(t=30))
    return fig
