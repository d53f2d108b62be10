"""Runs: every run in a filterable table, and accuracy against sparsity per method."""

import streamlit as st

from analysis.figures import METRIC_LABELS, accuracy_bands, training_curves
from analysis.findings import accuracy_finding
from ui.common import (
    demo_progress,
    empty_state,
    figure,
    pooled_warning,
    reading,
    run_picker,
    runs,
    runs_table,
    training_stages,
    url_multiselect,
    url_selectbox,
)

st.title("Runs")
picked = run_picker()
table = runs_table()
if table.empty:
    empty_state()
    st.stop()
demo_progress()

broken = table[table["status"] == "broken"]
if not broken.empty:
    st.warning("Some run directories are broken and were skipped:\n\n" + "\n".join(
        f"- `{row.run_id}`: {row.problem}" for row in broken.itertuples()))

table = table[table["status"] != "broken"]
combos = sorted({f"{m} · {d}" for m, d in zip(table["model"], table["data"], strict=True)})
left, right = st.columns([2, 5])
combo = url_selectbox(left, "Model · data", combos, key="combo")
model, data = combo.split(" · ")
scope = table[(table["model"] == model) & (table["data"] == data)]
methods = sorted(scope["method"].unique())
chosen = url_multiselect(right, "Methods", methods, key="methods")
scope = scope[scope["method"].isin(chosen)]
shown = set(scope["run_id"])
pooled_warning([r for r in runs() if r.run_id in shown], "The Compare page shows one study at a time.")


@st.fragment
def accuracy_view() -> None:
    """The metric, its finding and the chart: a new metric reruns this part alone."""
    label = url_selectbox(st.columns([2, 5])[0], "Metric", list(METRIC_LABELS.values()), key="metric")
    metric = next(key for key, text in METRIC_LABELS.items() if text == label)
    reading("Every run of one model on one data set. The chart puts each method's accuracy (or F1, MCC) against "
            "the share of prunable weights it removed: each point is the mean over seeds, the band ± one standard "
            "deviation when there are several, the dashed line the dense model it was pruned from. A curve that "
            "stays near the dashed line longer prunes better. The table lists every run; pick one in the sidebar "
            "and the other pages show it.", accuracy_finding(scope, metric))
    figure(accuracy_bands(scope, metric), "accuracy-bands")


accuracy_view()
st.dataframe(
    scope.drop(columns=["label", "problem", "model", "data"]), hide_index=True, width="stretch",
    column_config={
        "sparsity": st.column_config.NumberColumn(format="percent"),
        "kept_fraction": st.column_config.NumberColumn("kept", format="percent"),
        **{c: st.column_config.NumberColumn(format="%.4f") for c in METRIC_LABELS},
        "duration_s": st.column_config.NumberColumn("time (s)", format="%.0f"),
    },
)
if picked is not None:
    st.subheader(f"Training curves · {picked.label}")
    figure(training_curves(*training_stages(picked)), "training-curves")
    st.caption("The run picked in the sidebar, stage after stage on one step axis: its dense run's fine-tuning, "
               "then its own steps after pruning (dotted line). Above, the training loss; below, validation "
               "accuracy at each evaluation: the first point after the line is the pruned model before any "
               "recovery, so the drop pruning caused and what fine-tuning won back both show.")
