"""Sentinels: which weights are consistently important (SW) and which only on some batches (TSW)."""

import numpy as np
import streamlit as st

from analysis.findings import sentinel_finding
from analysis.noise import classify, kept_shares
from analysis.noise_figures import selected_rows, selection_breakdown, sentinel_scatter, sentinel_shares
from ui.common import figure, page_with_run, reading, runs_with, table

run = page_with_run("Sentinels", prefer="sample")
probed = runs_with("sample")
if run.label not in probed:
    st.info("Pick a run with a noise probe in the sidebar (runs record one unless `probe.batches = 0`).")
    st.stop()

sample = table(run, "sample")
reading("Each point is one weight of the probe's sample: right = important on average (saliency), up = important "
        "on every batch (high SNR). Sentinels (SW) are the salient weights with SNR above the threshold, "
        "temporary sentinels (TSW) the salient ones below it; SEVEN means to keep the first and prune the second. "
        "Box-select points to break them down by layer and module.",
        sentinel_finding(table(run, "sentinels"), run.method) if run.manifest.get("sparsity") and
        run.label in runs_with("sentinels") else None)
st.caption(f"{len(sample):,} weights sampled from **{run.label}**, with their saliency E|θ⊙g| and "
           "gradient SNR μ²/σ² over the probe batches. Among the weights a noise-blind saliency ranks "
           "on top, SW have SNR ≥ threshold and TSW below it.")


@st.fragment
def sentinel_map() -> None:
    """The thresholds, the scatter and its selection's breakdown: moving a threshold or selecting
    points reruns this part alone."""
    left, right = st.columns(2)
    snr_threshold = left.select_slider("SNR threshold", options=[0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
                                       value=1.0, key="snr_threshold", bind="query-params")
    custom = right.toggle("Set the saliency threshold myself (default: the run's own density)", key="own_saliency",
                          bind="query-params")
    log_saliency = np.log10(sample["saliency"].clip(lower=1e-30))
    threshold = right.slider("log10 saliency threshold", float(log_saliency.min()), float(log_saliency.max()),
                             float(log_saliency.quantile(0.5)), key="saliency_threshold",
                             bind="query-params") if custom else None
    classes = classify(sample, snr_threshold, threshold)

    event = figure(sentinel_scatter(sample, classes, snr_threshold), "sentinel-scatter", on_select="rerun",
                   selection_mode="box", key="sentinel_scatter")
    points = event.selection.points if event and event.selection else []
    figure(selection_breakdown(selected_rows(points, sample, classes), classes), "selection-breakdown")


sentinel_map()

st.subheader("Share of sentinels each method keeps")
pruned = {label: r for label, r in runs_with("sentinels").items() if r.manifest["sparsity"] > 0}
chosen = st.multiselect("Pruned runs", list(pruned), default=[run.label] if run.label in pruned else [],
                        key="share_runs", bind="query-params")
st.caption("Counts from the probe at its recorded SNR threshold (`probe.snr_threshold`, 1 by default); "
           "SNIP's mask is SNIP on the same run's scoring batches at the same density.")
for label in chosen:
    st.markdown(f"**{label}**")
    chosen_run = pruned[label]
    figure(sentinel_shares(kept_shares(table(chosen_run, "sentinels"), chosen_run.method), chosen_run.color),
           "sentinel-shares")
