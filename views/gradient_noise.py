"""Gradient noise: how much each layer's and module's gradient changes from batch to batch."""

import streamlit as st

from analysis.noise_figures import (
    kept_vs_pruned,
    rgv_by_model,
    rgv_distributions,
    rgv_over_steps,
    variation_histogram,
)
from ui.common import page_with_run, runs_with, table

run = page_with_run("Gradient noise")
probed = runs_with("rgv")
if not probed:
    st.info("No run has a noise probe yet: runs record one unless `probe.batches = 0`.")
    st.stop()

st.caption("Relative gradient variation between consecutive probe batches at the weights a run was "
           "pruned from, RGV(t) = ‖g_t − g_{t−1}‖₁ / ‖g_{t−1}‖₁: near 0 for steady gradients, near 1 or "
           "above when a batch's gradient barely resembles the previous one's.")
labels = list(probed)
left, right = st.columns([3, 1])
chosen = left.multiselect("Runs to overlay", labels, default=[run.label] if run.label in probed else labels[:1],
                          key="noise_runs")
subset = right.radio("Weights", ["all", "kept", "pruned"], horizontal=True, key="noise_subset")
rgv_by_run = {label: table(probed[label], "rgv") for label in chosen}

by_cell, by_step, by_entry, versus = st.tabs(
    ["Per layer and module", "Over steps · kept vs pruned", "Per weight", "Transformer vs CNN"])
with by_cell:
    st.plotly_chart(rgv_distributions(rgv_by_run, subset), width="stretch")
with by_step:
    focus = probed.get(run.label) or probed[chosen[0] if chosen else labels[0]]
    st.markdown(f"**{focus.label}**: RGV per module type (all layers pooled)")
    st.plotly_chart(rgv_over_steps(table(focus, "rgv")), width="stretch")
    st.markdown("RGV of the weights each run keeps and of those it prunes (one point per probe step)")
    st.plotly_chart(kept_vs_pruned(rgv_by_run), width="stretch")
with by_entry:
    st.plotly_chart(variation_histogram(table(focus, "histograms")), width="stretch")
with versus:
    images = {f"{r.manifest['model']} · {label}": r for label, r in probed.items()
              if r.manifest["data"]["name"] == "fashion-mnist" and r.manifest["sparsity"] == 0}
    if len({r.manifest["model"] for r in images.values()}) < 2:
        st.info("Compare a tiny ViT with a small CNN trained briefly on Fashion-MNIST: the demo computes "
                "both, or run `python -m pruning run configs/fashion_noise.toml` and the same with "
                "`--set model.name='\"small-cnn\"'`.")
    else:
        st.plotly_chart(rgv_by_model({label: table(r, "rgv") for label, r in images.items()}), width="stretch")
