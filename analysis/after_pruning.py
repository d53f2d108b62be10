"""Gradient noise after pruning, as the SEVEN paper measures it: the pruned model's RGV during
its own fine-tuning (finetune_rgv: per step and matrix, kept weights only) and the gradient
SNR and noise scale before and after pruning (noise_scale). Tables in, figures out.

Whole-model RGV at a step = Σ numerators / Σ denominators of the matrices; a noise group's SNR
and B_simple come from sums of its trace and signal (both add up over groups).
"""

import pandas as pd
import plotly.graph_objects as go

from .figures import empty_figure
from .labels import ROLE_LABELS, ROLES
from .noise import rgv_ratio

PHASES = {"probe": "before pruning (dense weights, fixed)", "fine-tuning": "after pruning (its fine-tuning)"}


def model_rgv(finetune_rgv: pd.DataFrame) -> pd.DataFrame:
    """step, rgv of the whole model."""
    sums = finetune_rgv.groupby("step", as_index=False)[["numerator", "denominator"]].sum()
    sums["rgv"] = rgv_ratio(sums)
    return sums.dropna(subset=["rgv"])[["step", "rgv"]]


def rgv_first_steps(rgv_by_run: dict[str, pd.DataFrame], colors: dict[str, str], steps: int = 40) -> go.Figure:
    """Whole-model RGV over the first `steps` fine-tuning steps after pruning, one line per run
    (the paper's Fig. 2)."""
    series = {label: model_rgv(frame) for label, frame in rgv_by_run.items()}
    series = {label: s[s["step"] <= steps] for label, s in series.items() if not s.empty}
    if not series:
        return empty_figure("These runs recorded no fine-tuning RGV (runs made before it was recorded, or no steps).")
    fig = go.Figure()
    for label, s in series.items():
        fig.add_trace(go.Scatter(x=s["step"], y=s["rgv"], mode="lines", name=label,
                                 line=dict(color=colors.get(label), width=2)))
    fig.update_layout(height=420, yaxis_type="log", xaxis_title="fine-tuning step after pruning",
                      yaxis_title="RGV of the kept weights (whole model, log)", legend_title="run",
                      margin=dict(t=30))
    return fig


def rgv_distribution(rgv_by_run: dict[str, pd.DataFrame], colors: dict[str, str]) -> go.Figure:
    """Per run, the distribution over its fine-tuning steps of every layer x module's RGV (the
    paper's Fig. 5): lower and tighter = steadier gradients on what the method kept."""
    fig = go.Figure()
    for label, frame in rgv_by_run.items():
        values = frame["rgv"].dropna()
        if values.empty:
            continue
        fig.add_trace(go.Box(y=values, name=label, marker_color=colors.get(label), boxpoints=False,
                             text=frame.loc[values.index, "module"].map(ROLE_LABELS)))
    if not fig.data:
        return empty_figure("These runs recorded no fine-tuning RGV.")
    fig.update_layout(height=420, yaxis_type="log", showlegend=False, margin=dict(t=30),
                      yaxis_title="RGV per layer × module and step (log)")
    return fig


def noise_by_module(noise_scale: pd.DataFrame) -> pd.DataFrame:
    """Per phase and module type (layers pooled) and for the whole model: SNR and B_simple."""
    if noise_scale.empty:
        return noise_scale
    frames = [noise_scale, noise_scale.assign(module="whole model")]
    pooled = pd.concat(frames).groupby(["phase", "module"], as_index=False).agg(
        trace=("trace", "sum"), signal=("signal", "sum"), batch_size=("batch_size", "first"),
        batches=("batches", "first"))
    pooled["snr"] = pooled["signal"].where(pooled["signal"] > 0) / pooled["trace"].where(pooled["trace"] > 0)
    pooled["b_simple"] = pooled["batch_size"] / pooled["snr"]
    order = {m: i for i, m in enumerate([*ROLES, "whole model"])}
    return pooled.sort_values(["phase", "module"], key=lambda c: c.map(order) if c.name == "module" else c)


def noise_scale_bars(noise_scale: pd.DataFrame, value: str = "b_simple") -> go.Figure:
    """SNR or B_simple per module type, before pruning (probe) next to after (fine-tuning)."""
    pooled = noise_by_module(noise_scale)
    if pooled.empty:
        return empty_figure("This run recorded no gradient noise scale.")
    fig = go.Figure()
    for phase, color in (("probe", "#9e9e9e"), ("fine-tuning", "#1f77b4")):
        part = pooled[pooled["phase"] == phase]
        if part.empty:
            continue
        fig.add_trace(go.Bar(x=part["module"].map(lambda m: ROLE_LABELS.get(m, m)), y=part[value],
                             name=PHASES[phase], marker_color=color,
                             customdata=part[["batches", "batch_size"]].to_numpy(),
                             hovertemplate="%{x}: %{y:.3g}<br>%{customdata[0]} batches of %{customdata[1]}"
                                           "<extra></extra>"))
    title = {"b_simple": "gradient noise scale B_simple = B·tr(Σ)/‖G‖² (examples, log)",
             "snr": "gradient SNR ‖G‖² / tr(Σ_batch) (log)"}[value]
    fig.update_layout(barmode="group", height=400, yaxis_type="log", yaxis_title=title, margin=dict(t=30))
    return fig
