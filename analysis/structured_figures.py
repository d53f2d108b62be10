"""Figures of the Structured comparison page: accuracy against measured latency, and the wall
time to obtain K sub-networks (accuracy bands, heatmaps and agreement reuse the Compare page's)."""

import math

import pandas as pd
import plotly.graph_objects as go

from .figures import empty_figure
from .labels import DENSE_COLOR, method_order


def latency_view(rows: pd.DataFrame) -> go.Figure:
    """Recovered accuracy against the latency per batch of the compressed model in PyTorch
    (filled) and onnxruntime (open), and of the masked model (dense shapes, x): colour per
    method, symbol per runtime (one legend line each); dotted lines: the dense model's latency in
    each runtime."""
    done = rows.dropna(subset=["accuracy"]) if not rows.empty else rows
    if done.empty:
        return empty_figure("No recovered structured run yet.")
    fig = go.Figure()
    groups = dict(list(done.groupby("method", sort=False)))
    runtimes = (("compressed ms", "circle", "PyTorch"), ("compressed onnxruntime ms", "circle-open", "onnxruntime"),
                ("masked ms", "x-thin-open", "masked"))
    for method in method_order(groups):
        group = groups[method]
        drawn = [r for r in runtimes if group[r[0]].notna().any()]
        for i, (column, symbol, runtime) in enumerate(drawn):
            fig.add_trace(go.Scatter(
                x=group[column], y=group["accuracy"], mode="markers", name=method, showlegend=i == 0,
                legendgroup=method,
                marker=dict(color=group["color"].iloc[0], size=10, symbol=symbol, line=dict(width=2)),
                customdata=group[["sparsity", "seed"]].to_numpy(),
                hovertemplate=f"{method} ({runtime})<br>sparsity %{{customdata[0]:.0%}} · seed "
                              f"%{{customdata[1]}}<br>%{{x:.1f}} ms<br>accuracy %{{y:.4f}}<extra></extra>",
            ))
    keys = [(symbol, runtime) for column, symbol, runtime in runtimes if done[column].notna().any()]
    for i, (symbol, runtime) in enumerate(keys):  # the symbols' key: a legend line each, not one per method
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=runtime, legendgroup="runtime",
                                 legendgrouptitle_text="runtime" if i == 0 else None,
                                 marker=dict(color=DENSE_COLOR, size=10, symbol=symbol, line=dict(width=2))))
    dense = {runtime: done.loc[done[column] > 0, column].median()  # a log axis: positive latencies only
             for column, runtime in (("dense ms", "PyTorch"), ("dense onnxruntime ms", "onnxruntime"))
             if (done[column] > 0).any()}
    # the faster runtime's label left of its line (annotations on a log axis take log10 of x)
    for (runtime, latency), side in zip(sorted(dense.items(), key=lambda item: item[1]), ("left", "right"),
                                        strict=False):
        fig.add_vline(x=latency, line=dict(color=DENSE_COLOR, dash="dot"))
        fig.add_annotation(x=math.log10(latency), y=1, yref="paper", yanchor="bottom", showarrow=False,
                           text=f"dense · {runtime}", xanchor="right" if side == "left" else "left")
    fig.update_layout(xaxis_title="latency of one batch (ms, median; log scale)", yaxis_title="validation accuracy",
                      legend_title="method", height=460, margin=dict(t=40))
    fig.update_xaxes(type="log")  # a noisy measurement far out must not squeeze the rest into one corner
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
