"""Solution path: one SPP run, every sparsity: the path of Γ, the read-offs along it (scrubbed
client-side by the figure's own slider), their speed, and the export of one sub-network."""

import json

import numpy as np
import streamlit as st

from analysis.findings import path_finding
from analysis.path_figures import (
    first_dropped_ratio,
    order_diagnosis,
    path_explorer,
    readoff_sparsities,
    speed_table,
    subnetwork_spec,
)
from analysis.store import has_table
from analysis.structured_compare import searched
from ui.common import figure, reading, run_picker, solution_path, table

st.title("Solution path")
run = run_picker(method="spp", only=searched)
if run is None:
    st.info("No Solution Path Pruning run yet. One search with the weights frozen gives a sub-network at every "
            "sparsity; make one (it fine-tunes the demo's dense model first if it is not there):")
    st.code("python -m pruning run configs/spp.toml", language="bash")
    st.stop()


@st.cache_data(show_spinner=False, max_entries=32)
def _explorer(location: str, budget: str, opens_at: float, _metrics, _path):
    """The figure of one run and budget, opened at a sparsity (a finished run never changes)."""
    return path_explorer(_path, _metrics, budget, opens_at=opens_at)


path = solution_path(run)
metrics = table(run, "metrics")
spp = run.manifest["config"]["spp"]
budget = spp["budget"]


def _value(split: str, sparsity: float, metric: str = "accuracy") -> float | None:
    rows = metrics[(metrics["split"] == split) & (metrics["metric"] == metric)
                   & np.isclose(metrics["sparsity"], sparsity)]
    return None if rows.empty else float(rows["value"].iloc[0])


reading("One Solution Path Pruning search orders every QK dimension, VO dimension and FFN neuron by when it "
        "joins the path; reading the order off at a sparsity gives that sub-network, so one search serves every "
        "sparsity. The figure scrubs the path in the browser: the mask norms along the search, what each block "
        "keeps, and accuracy against sparsity without and with recovery fine-tuning.", path_finding(metrics))
a, b, c = st.columns(3)
a.metric("Search", f"{int(path.steps[-1])} steps",
         help=f"{spp['variant']} dynamics, weights frozen; Γ stored at {len(path.steps)} checkpoints")
b.metric("Structured parameters", f"{path.total_params:,}", help="QK, VO and FFN parameters the masks control")
dense = _value("dense", 0.0)
c.metric("Dense accuracy", "–" if dense is None else f"{dense:.3f}", help="validation split")
for column, sparsity in zip(st.columns(3), (0.3, 0.5, 0.7), strict=True):
    readoff, recovered = _value("readoff", sparsity), _value("recovered", sparsity)
    shown = [f"{v:.3f}" for v in (readoff, recovered) if v is not None]
    column.metric(f"Accuracy at {sparsity:.0%}", " → ".join(shown) or "–",
                  help="read-off without recovery → after recovery fine-tuning")

sparsities = readoff_sparsities(metrics)
chosen = st.select_slider("Read off at", sparsities, value=min(sparsities, key=lambda s: abs(s - 0.5)),
                          format_func=lambda s: f"{s:.0%}", key="readoff", bind="query-params",
                          help="opens the figure at this sparsity, and is what the export below writes; the "
                               "figure's own slider explores the path in the browser without a round trip")
figure(_explorer(str(run.path), budget, chosen, metrics, path), "solution-path")
st.caption(f"Drag the slider under the chart to read the path off at another sparsity (budget `{budget}`): the "
           "sub-network keeps entries in the order they joined the path. (a) ‖Γ‖₂ of each block's QK, VO and FFN "
           "mask along the search; the dashed line is the step by which every kept entry had joined. (b) kept "
           "inner dimensions and neurons per block. (c) share of each type's parameters kept. (d) validation "
           "accuracy of each read-off without recovery, after recovery fine-tuning, and of the dense model; "
           "grey points: the support of Γ at each checkpoint, on the search's validation subset.")

if len(path.grad_abs):
    st.subheader("Does the order keep what the loss needs?")
    ratio = first_dropped_ratio(path)
    st.metric("Gradient of the first 5% dropped, over the median entry", f"{ratio:.1f}×",
              help="median mean-|∂L/∂M| of the entries a 5% read-off removes, over the median of all entries")
    figure(order_diagnosis(path), "order-diagnosis")
    st.caption(f"Every entry's mean |∂L/∂M| over the search against the sparsity from which this run's order "
               f"({path.hparams.get('order', 'path')}) removes it. The paper's order ranks joined entries by join "
               "step and the rest by |Z|, which follows the sign and mean of ∂L/∂M; at a fine-tuned model those are "
               "near zero and noisy, and entries whose gradient is large but changes sign (removing them hurts most) "
               "keep Z near 0 and go first. The order by mean |∂L/∂M| (ours) drops small-gradient entries first; the "
               "Structured comparison page compares both with the Taylor baseline.")

if has_table(run, "speed"):
    st.subheader("Speed of the compressed model")
    st.dataframe(speed_table(table(run, "speed")), hide_index=True, width="stretch", column_config={
        "sparsity": st.column_config.NumberColumn(format="percent"),
        "params": st.column_config.NumberColumn("params (compressed)", format="localized"),
        "params ratio": st.column_config.NumberColumn("params / dense", format="%.3f"),
        "FLOPs ratio": st.column_config.NumberColumn("FLOPs / dense", format="%.3f"),
        **{c: st.column_config.NumberColumn(c, format="%.2f") for c in ("dense ms", "masked ms", "compressed ms",
                                                                         "onnxruntime dense ms",
                                                                         "onnxruntime compressed ms")},
        "speed-up": st.column_config.NumberColumn("speed-up (dense / compressed)", format="%.2f×"),
        "onnxruntime speed-up": st.column_config.NumberColumn("onnxruntime speed-up", format="%.2f×"),
    })
    machine = run.manifest.get("machine", {})
    where = machine.get("gpu") or "CPU"
    st.caption(f"Median forward latency ({where}) of one batch, the three models timed round-robin. The masked model "
               "keeps the dense shapes (masks multiplied in); the compressed one has the removed dimensions "
               "sliced away. On CPU the dense and compressed models are also exported to ONNX and timed in "
               "onnxruntime in the same rounds.")


def export(sparsity: float) -> None:
    """The read-off the page's slider chose, to take away."""
    st.subheader(f"Export the sub-network at {sparsity:.0%}")
    left, right = st.columns([1, 2])
    spec = subnetwork_spec(path, sparsity, budget)
    left.download_button("Download kept indices (JSON)", json.dumps(spec, indent=1), mime="application/json",
                         file_name=f"{run.run_id}-spp-{100 * sparsity:.0f}.json")
    right.markdown(f"Keeps {spec['kept_params']:,} of {spec['total_params']:,} structured parameters "
                   f"({spec['achieved_sparsity']:.1%} removed). Write the model itself: `compressed/` (the "
                   "removed dimensions sliced away, safetensors) and `masked/` (dense shapes, zeros):")
    right.code(f"python -m pruning export {run.run_id} --sparsity {sparsity:g} "
               f"--out exports/{run.run_id}-{100 * sparsity:.0f} --runs {run.path.parent}", language="bash",
               wrap_lines=True)


export(chosen)
