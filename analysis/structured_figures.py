"""Figures of the Structured comparison page: accuracy against measured latency, and the wall
time to obtain K sub-networks (accuracy bands, heatmaps and agreement reuse the Compare page's)."""

import pandas as pd
import plotly.graph_objects as go

from .figures import empty_figure
from .labels import DENSE_COLOR, method_order


def latency_view(rows: pd.DataFrame) -> go.Figure:
    """Recovered accuracy against the latency per batch of the compressed model in PyTorch
    (filled) and onnxruntime (open), and of the masked model (dense shapes, x); dotted lines: the
    dense model's latency in each runtime."""
    done = rows.dropna(subset=["accuracy"]) if not rows.empty else rows
    if done.empty:
        return empty_figure("No recovered structured run yet.")
    fig = go.Figure()
    groups = dict(list(done.groupby("method", sort=False)))
    for method in method_order(groups):
        group = groups[method]
        color = group["color"].iloc[0]
        for column, symbol, runtime in (("compressed ms", "circle", "PyTorch"),
                                        ("compressed onnxruntime ms", "circle-open", "onnxruntime"),
                                        ("masked ms", "x-thin-open", "masked")):
            if group[column].notna().any():
                fig.add_trace(go.Scatter(
                    x=group[column], y=group["accuracy"], mode="markers", name=f"{method} · {runtime}",
                    legendgroup=method, marker=dict(color=color, size=10, symbol=symbol, line=dict(width=2)),
                    customdata=group[["sparsity", "seed"]].to_numpy(),
                    hovertemplate=f"{method} ({runtime})<br>sparsity %{{customdata[0]:.0%}} · seed "
                                  f"%{{customdata[1]}}<br>%{{x:.1f}} ms<br>accuracy %{{y:.4f}}<extra></extra>",
                ))
    for column, runtime in (("dense ms", "PyTorch"), ("dense onnxruntime ms", "onnxruntime")):
        if done[column].notna().any():
            fig.add_vline(x=done[column].median(), line=dict(color=DENSE_COLOR, dash="dot"),
                          annotation_text=f"dense · {runtime}", annotation_position="top")
    fig.update_layout(xaxis_title="latency of one batch (ms, median)", yaxis_title="validation accuracy",
                      legend_title="method · runtime", height=460, margin=dict(t=40))
    return fig


def cost_view(costs: pd.DataFrame) -> go.Figure:
    """Wall seconds to obtain K sub-networks per method (one search + K read-offs, or K searches)."""
    if costs.empty:
        return empty_figure("No structured run recorded its timings yet.")
    fig = go.Figure()
    for method in method_order(costs["method"].unique()):
        group = costs[costs["method"] == method]
        fig.add_trace(go.Scatter(
            x=group["subnetworks"], y=group["seconds"], mode="lines+markers", name=method,
            line=dict(color=group["color"].iloc[0], width=2.5),
            customdata=group[["searches"]].to_numpy(),
            hovertemplate=f"{method}<br>%{{x}} sub-networks: %{{y:.0f}} s (%{{customdata[0]}} search(es))"
                          "<extra></extra>"))
    fig.update_layout(xaxis_title="sub-networks obtained (K)", yaxis_title="wall time (s)", height=400,
                      legend_title="method", margin=dict(t=30))
    return fig
