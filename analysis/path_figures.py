"""Figures of the Solution path page: the path explorer (one Plotly figure whose own slider
scrubs the read-offs client-side), the speed table and the JSON spec of one read-off.

Per block b and type t (QK, VO, FFN), at checkpoint c and read-off mask keep (bool per entry):
    ‖Γ‖₂[b, t, c] = sqrt(Σ_{e in (b, t)} gamma[e, c]²)            panel (a)
    kept share[b, t] = #kept entries of (b, t) / #entries of (b, t)   panel (b)
    params kept[t]   = Σ_{e kept, type t} weight[e] / Σ_{type t} weight[e]   panel (c)
"""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import empty_figure
from .labels import DENSE_COLOR
from .solution_path import KINDS, SolutionPath

KIND_LABELS = ("QK", "VO", "FFN")
KIND_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c")
GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))
"""Read-off sparsities when a run recorded none: 5%, 10%, ..., 95%."""


def block_label(name: str) -> str:
    """'bert.encoder.layer.3' -> 'layer 3'; CLIP's towers -> 'vision 0', 'text 0'."""
    parts = name.split(".")
    index = next((p for p in reversed(parts) if p.isdigit()), name)
    tower = next((t for t in ("vision", "text") if any(p.startswith(t) for p in parts)), "layer")
    return f"{tower} {index}"


def readoff_sparsities(metrics: pd.DataFrame | None) -> list[float]:
    """The sparsities of the run's "readoff" rows, else GRID."""
    if metrics is None or metrics.empty:
        return list(GRID)
    found = sorted(metrics.loc[metrics["split"] == "readoff", "sparsity"].unique())
    return [float(s) for s in found] or list(GRID)


def _rows(metrics: pd.DataFrame | None, split: str, metric: str = "accuracy") -> pd.DataFrame:
    if metrics is None or metrics.empty:
        return pd.DataFrame(columns=["sparsity", "value"])
    rows = metrics[(metrics["split"] == split) & (metrics["metric"] == metric)]
    return rows.sort_values("sparsity")[["sparsity", "value"]]


def _read_off(path: SolutionPath, sparsity: float, budget: str) -> dict:
    """Everything the slider shows at one sparsity."""
    blocks = len(path.blocks)
    cell = path.block * len(KINDS) + path.kind
    total = np.bincount(cell, minlength=blocks * len(KINDS)).reshape(blocks, len(KINDS))
    keep = path.masks_at(sparsity, budget)
    kept = np.bincount(cell[keep], minlength=blocks * len(KINDS)).reshape(blocks, len(KINDS))
    cells = [list(zip(kr.tolist(), tr.tolist(), strict=True)) for kr, tr in zip(kept, total, strict=True)]
    share = [[(k / t if t else None) for k, t in row] for row in cells]
    text = [[(f"{k}/{t}" if t else "") for k, t in row] for row in cells]
    by_type = np.bincount(path.kind, weights=path.weight, minlength=len(KINDS))
    kept_type = np.bincount(path.kind[keep], weights=path.weight[keep], minlength=len(KINDS))
    params = [*(np.divide(kept_type, by_type, out=np.zeros(len(KINDS)), where=by_type > 0)),
              path.kept_params(keep) / max(path.total_params, 1)]
    joined = path.join_step[keep]
    by_step = None if not keep.any() else int(path.steps[-1] if (joined < 0).any() else joined.max())
    if by_step is None:
        said = ""
    elif (joined < 0).any():  # some kept entries never joined: say how many did, not "all"
        said = f"{(joined >= 0).mean():.0%} of the kept joined by {by_step}"
    else:
        said = f"all kept joined by {by_step}"
    return dict(share=share, text=text, params=[float(p) for p in params], joined_by=by_step, joined_text=said,
                achieved=path.sparsity_of(keep))


def _gamma_norms(path: SolutionPath) -> dict[tuple[int, int], np.ndarray]:
    return {(b, k): np.sqrt((path.gamma[(path.block == b) & (path.kind == k)].astype(float) ** 2).sum(0))
            for b in range(len(path.blocks)) for k in range(len(KINDS))
            if ((path.block == b) & (path.kind == k)).any()}


def path_explorer(path: SolutionPath | None, metrics: pd.DataFrame | None = None, budget: str = "global",
                  sparsities: list[float] | None = None, opens_at: float = 0.5) -> go.Figure:
    """(a) ‖Γ‖₂ per block and type vs step, a line at the step by which the kept entries had
    joined; (b) kept share per block and type; (c) share of parameters kept per type; (d)
    accuracy vs sparsity (read-off, recovered, dense). A Plotly slider picks the read-off; it
    starts at the sparsity nearest `opens_at`."""
    if path is None or len(path.rank) == 0:
        return empty_figure("This run has no solution path.")
    sparsities = [float(s) for s in (sparsities or readoff_sparsities(metrics))]
    states = [_read_off(path, s, budget) for s in sparsities]
    active = int(np.argmin([abs(s - opens_at) for s in sparsities]))
    now = states[active]
    labels = [block_label(b) for b in path.blocks]
    fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.12, vertical_spacing=0.14, subplot_titles=(
        "(a) ‖Γ‖₂ per block and type along the search", "(b) kept dimensions per block and type",
        "(c) parameters kept per type", "(d) accuracy against sparsity"))

    norms = _gamma_norms(path)
    for k, kind in enumerate(KIND_LABELS):  # one trace per type, its blocks' lines split by gaps: Plotly redraws
        lines = [(b, norm) for (b, kk), norm in norms.items() if kk == k]  # every trace on each slider step
        if not lines:
            continue
        x = np.concatenate([np.append(path.steps, np.nan) for _ in lines])
        y = np.concatenate([np.append(norm, np.nan) for _, norm in lines])
        block = np.concatenate([[labels[b]] * (len(path.steps) + 1) for b, _ in lines])
        fig.add_trace(go.Scatter(
            x=x, y=y, customdata=block, mode="lines", name=kind, line=dict(color=KIND_COLORS[k], width=1.4),
            opacity=0.85, connectgaps=False,
            hovertemplate=f"%{{customdata}} · {kind}<br>step %{{x}}<br>‖Γ‖₂ %{{y:.3g}}<extra></extra>"), row=1, col=1)
    top = 1.05 * max((float(n.max()) for n in norms.values()), default=0.0) or 1.0

    def joined_line(state):
        step = state["joined_by"]
        return dict(x=[step, step], y=[0, top], text=["", state["joined_text"]])

    marks = {}
    marks["joined"] = len(fig.data)
    fig.add_trace(go.Scatter(**joined_line(now), mode="lines+text", name="joined by", showlegend=False,
                             line=dict(color="#d62728", dash="dash", width=2), textposition="top center",
                             cliponaxis=False, textfont=dict(color="#d62728"), hoverinfo="skip"), row=1, col=1)
    marks["heatmap"] = len(fig.data)
    fig.add_trace(go.Heatmap(
        z=now["share"], text=now["text"], x=list(KIND_LABELS), y=labels, zmin=0, zmax=1, colorscale="Blues",
        texttemplate="%{text}", name="kept share", xgap=2, ygap=2,
        colorbar=dict(title="kept", tickformat=".0%", len=0.42, y=1.0, yanchor="top", x=1.0, thickness=14),
        hovertemplate="%{y} · %{x}<br>kept %{text} (%{z:.0%})<extra></extra>"), row=1, col=2)
    marks["bars"] = len(fig.data)
    bar_x = [*KIND_LABELS, "all"]
    fig.add_trace(go.Bar(x=bar_x, y=now["params"], text=[f"{p:.0%}" for p in now["params"]], textposition="outside",
                         marker_color=[*KIND_COLORS, "#555555"], showlegend=False, name="params kept",
                         hovertemplate="%{x}: %{y:.1%} of its parameters kept<extra></extra>"), row=2, col=1)

    readoff, recovered, support = _rows(metrics, "readoff"), _rows(metrics, "recovered"), _rows(metrics, "path")
    if not support.empty:
        fig.add_trace(go.Scatter(x=100 * support["sparsity"], y=support["value"], mode="markers",
                                 name="search checkpoints (val. subset)", marker=dict(color="#aaaaaa", size=6),
                                 hovertemplate="support of Γ: %{x:.1f}%<br>accuracy %{y:.3f}<extra></extra>"),
                      row=2, col=2)
    fig.add_trace(go.Scatter(x=100 * readoff["sparsity"], y=readoff["value"], mode="lines+markers",
                             name="read-off, no recovery", line=dict(color="#1f77b4", width=2), marker=dict(size=5),
                             hovertemplate="%{x:.0f}%: %{y:.3f}<extra>read-off</extra>"), row=2, col=2)
    if not recovered.empty:
        fig.add_trace(go.Scatter(x=100 * recovered["sparsity"], y=recovered["value"], mode="markers",
                                 name="recovered", marker=dict(color="#2ca02c", size=11, symbol="diamond"),
                                 hovertemplate="%{x:.0f}%: %{y:.3f}<extra>recovered</extra>"), row=2, col=2)
    lookup = dict(zip(np.round(readoff["sparsity"].astype(float), 6), readoff["value"].astype(float), strict=True))

    def current(s):
        value = lookup.get(round(s, 6))
        return dict(x=[100 * s], y=[value], text=[None if value is None else f"{value:.3f}"])

    marks["current"] = len(fig.data)
    fig.add_trace(go.Scatter(**current(sparsities[active]), mode="markers+text", name="current read-off",
                             textposition="top right", marker=dict(color="#d62728", size=13, symbol="circle-open",
                                                                   line=dict(width=3))), row=2, col=2)
    dense = _rows(metrics, "dense")
    if not dense.empty:
        fig.add_hline(y=float(dense["value"].iloc[0]), line=dict(color=DENSE_COLOR, dash="dash"), row=2, col=2,
                      annotation_text=f"dense {dense['value'].iloc[0]:.3f}", annotation_position="bottom left")

    order = [marks["joined"], marks["bars"], marks["heatmap"], marks["current"]]
    steps = []
    for s, state in zip(sparsities, states, strict=True):
        line, point = joined_line(state), current(s)
        steps.append(dict(label=f"{100 * s:.0f}%", method="update", args=[
            {"x": [line["x"], bar_x, list(KIND_LABELS), point["x"]],
             "y": [line["y"], state["params"], labels, point["y"]],
             "z": [None, None, state["share"], None],
             "text": [line["text"], [f"{p:.0%}" for p in state["params"]], state["text"], point["text"]]},
            {"annotations[1].text": f"(b) kept dimensions per block and type · achieved {state['achieved']:.1%}"},
            order]))
    fig.layout.annotations[1].text = f"(b) kept dimensions per block and type · achieved {now['achieved']:.1%}"
    fig.update_layout(
        height=max(780, 560 + 22 * len(labels)), margin=dict(t=90, b=40),
        legend=dict(orientation="h", y=1.09, x=0, yanchor="bottom"),
        sliders=[dict(active=active, steps=steps, currentvalue=dict(prefix="read-off at sparsity "),
                      pad=dict(t=60), len=1.0)])
    fig.update_xaxes(title_text="search step", row=1, col=1)
    fig.update_yaxes(title_text="‖Γ‖₂", range=[0, 1.12 * top], row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    fig.update_yaxes(title_text="share kept", range=[0, 1.18], tickformat=".0%", row=2, col=1)
    fig.update_xaxes(title_text="structured sparsity", range=[-3, 103], ticksuffix="%", row=2, col=2)
    fig.update_yaxes(title_text="validation accuracy", row=2, col=2)
    return fig


SPEED_TABLE_COLUMNS = ["sparsity", "params", "params ratio", "FLOPs ratio", "dense ms", "masked ms",
                       "compressed ms", "speed-up", "onnxruntime dense ms", "onnxruntime compressed ms",
                       "onnxruntime speed-up"]


def speed_table(speed: pd.DataFrame | None) -> pd.DataFrame:
    """One row per sparsity: the compressed model's params and FLOPs as shares of the dense
    model's, the latencies, and speed-up = dense ms / compressed ms (same-sparsity rows), in
    PyTorch and in onnxruntime (NaN where the run measured none: GPU runs, older runs)."""
    if speed is None or speed.empty:
        return pd.DataFrame(columns=SPEED_TABLE_COLUMNS)
    rows = []
    for sparsity, group in speed.groupby("sparsity", sort=True):
        by = group.groupby("model")[["params", "flops", "latency_ms"]].median()

        def get(model, column, by=by):
            return float(by.loc[model, column]) if model in by.index else np.nan

        rows.append({
            "sparsity": float(sparsity), "params": get("compressed", "params"),
            "params ratio": get("compressed", "params") / get("dense", "params"),
            "FLOPs ratio": get("compressed", "flops") / get("dense", "flops"),
            "dense ms": get("dense", "latency_ms"), "masked ms": get("masked", "latency_ms"),
            "compressed ms": get("compressed", "latency_ms"),
            "speed-up": get("dense", "latency_ms") / get("compressed", "latency_ms"),
            "onnxruntime dense ms": get("dense onnxruntime", "latency_ms"),
            "onnxruntime compressed ms": get("compressed onnxruntime", "latency_ms"),
            "onnxruntime speed-up": (get("dense onnxruntime", "latency_ms")
                                     / get("compressed onnxruntime", "latency_ms")),
        })
    return pd.DataFrame(rows, columns=SPEED_TABLE_COLUMNS)


def subnetwork_spec(path: SolutionPath, sparsity: float, budget: str = "global") -> dict:
    """The read-off at `sparsity` as JSON-able data: per block the kept qk / vo / ffn indices."""
    keep = path.masks_at(sparsity, budget)
    masks = path.block_masks(keep)
    return {
        "sparsity": float(sparsity), "budget": budget, "achieved_sparsity": path.sparsity_of(keep),
        "kept_params": path.kept_params(keep), "total_params": path.total_params,
        "blocks": [{"name": name, "label": block_label(name),
                    "sizes": {kind: len(masks[kind][b]) for kind in KINDS},
                    **{kind: np.flatnonzero(masks[kind][b]).tolist() for kind in KINDS}}
                   for b, name in enumerate(path.blocks)],
    }


def removal_sparsity(path: SolutionPath) -> np.ndarray:
    """Per entry, the smallest global read-off sparsity that removes it: 1 − (parameters ranked
    before it) / total, so a read-off at s removes exactly the entries with removal sparsity ≤ s."""
    order = np.argsort(path.rank, kind="stable")
    before = np.cumsum(path.weight[order]) - path.weight[order]
    removed = np.empty(len(order))
    removed[order] = 1.0 - before / max(path.total_params, 1)
    return removed


def order_diagnosis(path: SolutionPath, bins: int = 20) -> go.Figure:
    """Mean |∂L/∂M| over the search of every entry against the sparsity from which the path's
    order removes it, with the median per 5% bin: an order that keeps what the loss needs drops
    small-gradient entries first (the line rises to the right)."""
    if not len(path.grad_abs):
        return empty_figure("This path records no gradients (a run from before they were recorded).")
    removed = removal_sparsity(path)
    joined = path.join_step >= 0
    fig = go.Figure()
    for mask, name, color in ((~joined, "never joined", "#9e9e9e"), (joined, "joined", "#d62728")):
        fig.add_trace(go.Scattergl(x=100 * removed[mask], y=path.grad_abs[mask], mode="markers", name=name,
                                   marker=dict(color=color, size=4, opacity=0.5),
                                   hovertemplate="removed from %{x:.1f}%<br>mean |∂L/∂M| %{y:.2e}<extra></extra>"))
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(removed, edges) - 1, 0, bins - 1)
    medians = [np.median(path.grad_abs[which == b]) if (which == b).any() else np.nan for b in range(bins)]
    fig.add_trace(go.Scatter(x=100 * (edges[:-1] + edges[1:]) / 2, y=medians, mode="lines+markers",
                             name="median per 5%", line=dict(color=DENSE_COLOR, width=3)))
    fig.update_layout(xaxis_title="removed from this sparsity on (%)", yaxis_title="mean |∂L/∂M| over the search",
                      yaxis_type="log", height=420, margin=dict(t=30), legend_title="entry")
    return fig


def first_dropped_ratio(path: SolutionPath, share: float = 0.05) -> float:
    """Median mean-|∂L/∂M| of the entries a read-off at `share` removes, over that of all entries
    (< 1: the order drops small-gradient entries first; NaN without recorded gradients)."""
    if not len(path.grad_abs):
        return float("nan")
    first = removal_sparsity(path) <= share
    return float(np.median(path.grad_abs[first]) / np.median(path.grad_abs)) if first.any() else float("nan")
