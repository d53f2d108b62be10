"""Figures of the Gradient noise and Sentinels pages: dataframes in, go.Figure out."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import empty_figure
from .labels import ROLE_LABELS
from .noise import CLASSES, grouped_rgv, with_labels

SUBSET_DASH = {"all": "solid", "kept": "solid", "pruned": "dot"}
CLASS_COLORS = {"SW": "#2ca02c", "TSW": "#d62728", "other": "#c7c7c7"}


def rgv_distributions(rgv_by_run: dict[str, pd.DataFrame], subset: str = "all") -> go.Figure:
    """Box plots of RGV over steps for every layer · module, one colour per run (log scale; the
    colourway's, since two runs of one method are overlaid here too)."""
    frames = {label: rgv[rgv["subset"] == subset] for label, rgv in rgv_by_run.items()}
    frames = {label: f for label, f in frames.items() if not f.empty}
    if not frames:
        return empty_figure(f"No RGV recorded for the {subset} weights of these runs.")
    fig = go.Figure()
    for label, frame in frames.items():
        frame = with_labels(frame.dropna(subset=["rgv"]))
        fig.add_trace(go.Box(
            x=[frame["module_name"], frame["layer_name"]], y=frame["rgv"], name=label, boxpoints=False,
        ))
    fig.update_layout(boxmode="group", height=460, yaxis_type="log", margin=dict(t=30),
                      yaxis_title="RGV per probe step (log scale)", legend_title="run")
    return fig


def rgv_over_steps(rgv: pd.DataFrame) -> go.Figure:
    """RGV per module type over probe steps; kept (solid) vs pruned (dotted) where a mask exists."""
    subsets = ["kept", "pruned"] if {"kept", "pruned"} <= set(rgv["subset"]) else ["all"]
    data = grouped_rgv(rgv[rgv["subset"].isin(subsets)], ["module", "subset"])
    if data.empty:
        return empty_figure("No RGV recorded for this run.")
    fig = go.Figure()
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
    for i, module in enumerate(m for m in ROLE_LABELS if m in set(data["module"])):
        for subset in subsets:
            part = data[(data["module"] == module) & (data["subset"] == subset)]
            fig.add_trace(go.Scatter(
                x=part["step"], y=part["rgv"], mode="lines", name=f"{ROLE_LABELS[module]} · {subset}",
                line=dict(color=palette[i % len(palette)], dash=SUBSET_DASH[subset]),
                legendgroup=module,
            ))
    fig.update_layout(height=400, yaxis_type="log", xaxis_title="probe step t", yaxis_title="RGV",
                      margin=dict(t=30))
    return fig


def kept_vs_pruned(rgv_by_run: dict[str, pd.DataFrame]) -> go.Figure:
    """Per run, the RGV distribution of the weights it keeps next to those it prunes."""
    rows = [grouped_rgv(rgv, ["subset"]).assign(run=label) for label, rgv in rgv_by_run.items()
            if {"kept", "pruned"} <= set(rgv["subset"])]
    if not rows:
        return empty_figure("Pick pruned runs: a dense run keeps every weight.")
    data = pd.concat(rows)
    fig = go.Figure()
    for subset, color in (("kept", "#2ca02c"), ("pruned", "#d62728")):
        part = data[data["subset"] == subset]
        fig.add_trace(go.Box(x=part["run"], y=part["rgv"], name=f"{subset} weights", marker_color=color,
                             boxpoints="all", jitter=0.4, pointpos=0))
    fig.update_layout(boxmode="group", height=400, yaxis_type="log", yaxis_title="RGV of the whole model",
                      margin=dict(t=30))
    return fig


def variation_histogram(histograms: pd.DataFrame) -> go.Figure:
    """Share of entries per bin of log10 |g_t − g_{t−1}| / |g_{t−1}|, one line per module type."""
    if histograms.empty or histograms["count"].sum() == 0:
        return empty_figure("No element-wise variation recorded for this run.")
    fig = go.Figure()
    for module in (m for m in ROLE_LABELS if m in set(histograms["module"])):
        part = histograms[histograms["module"] == module]
        centre = (part["bin_left"] + part["bin_right"]) / 2
        fig.add_trace(go.Scatter(x=10**centre, y=part["count"] / part["count"].sum(), mode="lines+markers",
                                 name=ROLE_LABELS[module]))
    fig.add_vline(x=1, line=dict(color="#555", dash="dash"), annotation_text="change = previous size")
    fig.update_layout(height=380, xaxis_type="log", xaxis_title="|g_t − g_{t−1}| / |g_{t−1}| per weight",
                      yaxis_title="share of entries", margin=dict(t=30))
    return fig


def sentinel_scatter(sample: pd.DataFrame, classes: pd.Series, snr_threshold: float) -> go.Figure:
    """log saliency vs log SNR of the sampled weights (WebGL), coloured SW / TSW / other."""
    if sample.empty:
        return empty_figure("This run has no weight sample (its noise probe was off).")
    x = np.log10(sample["saliency"].clip(lower=1e-30))
    y = np.log10(sample["snr"].clip(lower=1e-12))
    fig = go.Figure()
    for cls in CLASSES:
        part = classes == cls
        fig.add_trace(go.Scattergl(
            x=x[part], y=y[part], mode="markers", name=f"{cls} ({int(part.sum()):,})",
            marker=dict(size=4, color=CLASS_COLORS[cls], opacity=0.6 if cls == "other" else 0.8),
            hovertemplate="log10 saliency %{x:.2f}<br>log10 SNR %{y:.2f}<extra></extra>",
        ))
    fig.add_hline(y=np.log10(snr_threshold), line=dict(color="#333", dash="dash"),
                  annotation_text=f"SNR = {snr_threshold:g}")
    fig.update_layout(height=520, dragmode="select", xaxis_title="log10 saliency E|θ⊙g|",
                      yaxis_title="log10 gradient SNR μ²/σ²", legend_title="class", margin=dict(t=30))
    return fig


def selected_rows(points: list[dict], sample: pd.DataFrame, classes: pd.Series) -> pd.DataFrame:
    """The sample rows a box selection on sentinel_scatter holds, from each point's trace (one per
    class, in CLASSES order) and its index within that trace; a WebGL trace's points carry no
    customdata, which is what failed before."""
    parts = [sample.index[(classes == cls).to_numpy()] for cls in CLASSES]
    index = [parts[p["curve_number"]][p["point_index"]] for p in points
             if p.get("curve_number", len(parts)) < len(parts) and p.get("point_index") is not None]
    return sample.loc[index]


def selection_breakdown(selected: pd.DataFrame, classes: pd.Series) -> go.Figure:
    """How a box-selected set of weights splits over layers and modules, by class."""
    if selected.empty:
        return empty_figure("Draw a box on the scatter to break its weights down by layer and module.")
    data = with_labels(selected.assign(cls=classes.loc[selected.index]))
    counts = data.groupby(["layer_name", "module_name", "cls"], sort=False).size().reset_index(name="n")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("by layer", "by module"))
    for cls in CLASSES:
        part = counts[counts["cls"] == cls]
        for col, key in ((1, "layer_name"), (2, "module_name")):
            agg = part.groupby(key, sort=False)["n"].sum()
            fig.add_trace(go.Bar(x=agg.index, y=agg.values, name=cls, marker_color=CLASS_COLORS[cls],
                                 showlegend=col == 1, legendgroup=cls), row=1, col=col)
    fig.update_layout(barmode="stack", height=340, margin=dict(t=40), yaxis_title="sampled weights")
    return fig


def sentinel_shares(shares: pd.DataFrame, color: str) -> go.Figure:
    """Share of SW and of TSW kept per layer, by the run's method (in `color`) and by SNIP at the
    same density (grey)."""
    if shares.empty or shares["share"].isna().all():
        return empty_figure("No sentinel counts recorded for this run.")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("sentinels (SW) kept: higher is better",
                                                        "temporary sentinels (TSW) kept: lower is better"),
                        shared_yaxes=True)
    for i, who in enumerate(shares["who"].unique()):
        for col, cls in ((1, "SW"), (2, "TSW")):
            part = shares[(shares["who"] == who) & (shares["class"] == cls)]
            fig.add_trace(go.Bar(x=part["layer_name"], y=part["share"], name=who, showlegend=col == 1,
                                 marker_color=color if i == 0 else "#9e9e9e", legendgroup=who,
                                 text=[f"{v:.0%}" if pd.notna(v) else "" for v in part["share"]],
                                 textposition="outside"), row=1, col=col)
    fig.update_layout(barmode="group", height=400, yaxis_tickformat=".0%", yaxis_range=[0, 1.1], margin=dict(t=50))
    return fig


def rgv_by_model(rgv_by_run: dict[str, pd.DataFrame]) -> go.Figure:
    """One box per run of every weight matrix's RGV at every probe step (all weights)."""
    frames = {label: rgv[(rgv["subset"] == "all")].dropna(subset=["rgv"]) for label, rgv in rgv_by_run.items()}
    frames = {label: f for label, f in frames.items() if not f.empty}
    if not frames:
        return empty_figure("No probed runs to compare.")
    fig = go.Figure()
    for label, frame in frames.items():
        fig.add_trace(go.Box(y=frame["rgv"], name=label, boxmean=True, boxpoints="outliers",
                             text=with_labels(frame)["module_name"], hovertemplate="%{text}: %{y:.3f}<extra></extra>"))
    fig.add_hline(y=np.sqrt(2), line=dict(color="#555", dash="dot"),
                  annotation_text="√2: consecutive gradients independent, zero mean")
    fig.update_layout(height=420, yaxis_title="RGV per weight matrix and step", showlegend=False, margin=dict(t=30))
    return fig
