"""Structured comparison: SPP's read-offs against every structured baseline on the same entries,
budget and recovery: accuracy against sparsity and latency, where each keeps, how much they
agree, and what K sub-networks cost."""

import streamlit as st

from analysis.compare import mask_agreement
from analysis.compare_figures import agreement_matrix, heatmap_multiples
from analysis.figures import accuracy_bands
from analysis.findings import accuracy_finding
from analysis.labels import method_order
from analysis.structured_compare import (
    accuracy_rows,
    kept_entries,
    kept_shares,
    latency_rows,
    structured_runs,
    subnetwork_costs,
)
from analysis.structured_figures import cost_view, latency_view
from ui.common import figure, reading, runs, solution_path, url_multiselect, url_selectbox

st.title("Structured comparison")
found = structured_runs(runs())
if not found:
    st.info("No structured run yet. SPP and each structured baseline rank the same QK / VO / FFN entries of one "
            "dense model; make them with the structured study:")
    st.code("python -m pruning sweep configs/structured.toml", language="bash")
    st.stop()


pairs = sorted({f"{r.manifest['model']} · {r.manifest['data']['name']}" for r in found})
top = st.columns([2, 3])
pair = url_selectbox(top[0], "Model · data", pairs, key="structured_scope")
in_scope = [r for r in found if f"{r.manifest['model']} · {r.manifest['data']['name']}" == pair]
methods = method_order({r.method for r in in_scope})
chosen = url_multiselect(top[1], "Methods", methods, key="structured_methods")
in_scope = [r for r in in_scope if r.method in chosen]
accuracy = accuracy_rows(in_scope)
reading("SPP and the structured baselines rank the same QK / VO / FFN entries of one dense model and are read "
        "off at the same sparsities, then recovered with the same fine-tuning. Compare the curves without and "
        "with recovery, the accuracy bought per millisecond of latency, where each keeps, and what K "
        "sub-networks cost each method.", accuracy_finding(accuracy[accuracy["phase"] == "recovered"]))

st.subheader("Accuracy against structured sparsity")
left, right = st.columns(2)
for column, phase in ((left, "no recovery"), (right, "recovered")):
    column.markdown(f"**{phase}**")
    figure(accuracy_bands(accuracy[accuracy["phase"] == phase], x_title="structured sparsity (%)"),
           f"accuracy-{phase.replace(' ', '-')}", container=column)
st.caption("Share of the structured parameters (QK and VO inner dimensions, FFN neurons, each weighted by what it "
           "controls) removed. Lines: mean over seeds; bands: ± one standard deviation; dashed: the dense model. "
           "Left: the read-off as it is; right: after the same recovery fine-tuning. A per-target method (the "
           "lasso: one search per sparsity) appears at its targets only.")

st.subheader("Accuracy against measured latency")
latency = latency_rows(in_scope)
figure(latency_view(latency), "latency-view")
st.caption("Recovered accuracy against the median latency of one batch: the compressed model in PyTorch (filled) "
           "and exported to ONNX in onnxruntime (open), and the masked model, which keeps the dense shapes (x); "
           "dotted: the dense model in each runtime.")

st.subheader("Where each method keeps, and how much they agree")
seeds = sorted({r.manifest["seed"] for r in in_scope})
controls = st.columns(2)
sparsity = controls[0].select_slider("Structured sparsity", [round(0.05 * i, 2) for i in range(1, 20)], value=0.5,
                                     format_func=lambda s: f"{s:.0%}", key="structured_sparsity", bind="query-params")
seed = controls[1].selectbox("Seed", seeds, key="structured_seed", bind="query-params")
at = {r.method: r for r in in_scope if r.manifest["seed"] == seed and (
    not r.manifest.get("per_target") or abs(r.manifest["config"]["spp"]["target"] - sparsity) < 1e-9)}
paths = {m: solution_path(at[m]) for m in method_order(at)}
budgets = {m: at[m].manifest["config"]["spp"]["budget"] for m in paths}
figure(heatmap_multiples({m: kept_shares(p, sparsity, budgets[m]) for m, p in paths.items()}, "kept", "Greens"),
       "kept-shares")
figure(agreement_matrix(mask_agreement({m: kept_entries(p, sparsity, budgets[m]) for m, p in paths.items()}),
                        "Jaccard of the kept entries"), "kept-entries-jaccard")
st.caption("Top: share of each block's QK dims, VO dims and FFN neurons kept at this sparsity. Bottom: Jaccard "
           "|A ∩ B| / |A ∪ B| of the kept entries of every pair of methods (the same dense model and seed).")

st.subheader("What K sub-networks cost (the SPP paper's Fig. 1, measured)")
costs = subnetwork_costs(in_scope)
figure(cost_view(costs), "cost-view")
if not costs.empty:
    st.dataframe(costs.pivot(index="method", columns="subnetworks", values="seconds").round(1)
                 .rename(columns=lambda k: f"{k} sub-networks (s)"), width="stretch")
st.caption("A ranking method (SPP, Taylor, magnitude, random) pays one search and then a read-off per "
           "sub-network; a per-target method (the lasso) one search per sub-network. Recovery fine-tuning, the "
           "same per sub-network for all, is left out, and so are the diagnostic evaluations along SPP's path.")
table = accuracy[accuracy["method"] != "dense"].pivot_table(index=["method", "phase"], columns="sparsity",
                                                           values="val_accuracy", aggfunc="mean")
if not table.empty:
    st.dataframe(table.rename(columns=lambda s: f"{s:.0%}").round(3), width="stretch")
    st.caption(f"Mean validation accuracy over the seeds present ({len(seeds)}).")
