"""Gradient noise: how much each layer's and module's gradient changes from batch to batch,
before pruning (the probe at the dense weights) and after it (during the run's fine-tuning)."""

import streamlit as st

from analysis.after_pruning import noise_scale_bars, rgv_distribution, rgv_first_steps
from analysis.findings import rgv_finding
from analysis.noise_figures import (
    kept_vs_pruned,
    rgv_by_model,
    rgv_distributions,
    rgv_over_steps,
    variation_histogram,
)
from ui.common import figure, page_with_run, reading, runs_with, table

run = page_with_run("Gradient noise", prefer="finetune_rgv")
tuned = runs_with("finetune_rgv")
probed = runs_with("rgv")
if not probed and not tuned:
    st.info("No run has recorded gradient noise yet: runs record it while they fine-tune, and a noise probe "
            "unless `probe.batches = 0`.")
    st.stop()

st.caption("Relative gradient variation between consecutive batches, RGV(t) = ‖g_t − g_{t−1}‖₁ / ‖g_{t−1}‖₁: "
           "near 0 for steady gradients, near 1 or above when a batch's gradient barely resembles the previous "
           "one's. **After pruning** is what the SEVEN paper measures (its Fig. 2 and 5): the pruned model's "
           "gradients on the weights it kept, step after step of its fine-tuning. **Before pruning** is the probe "
           "at the dense weights the run was pruned from, split by the run's mask.")
after, before, scale, versus = st.tabs(
    ["After pruning", "Before pruning (dense weights)", "Noise scale", "Transformer vs CNN"], key="noise_tab",
    bind="query-params")
with after:
    labels = list(tuned)
    chosen = st.multiselect("Runs to overlay", labels, default=[run.label] if run.label in tuned else labels[:1],
                            key="after_runs", bind="query-params")
    rgv_by_run = {label: table(tuned[label], "finetune_rgv") for label in chosen}
    reading("Overlay runs to compare how steady the gradients of what each kept are. Lower RGV = the next batch's "
            "gradient resembles the last one's: SEVEN's claim is that keeping sentinels (consistently important "
            "weights) gives lower, steadier RGV after pruning than SNIP or GraSP.", rgv_finding(rgv_by_run))
    colors = {label: tuned[label].color for label in chosen}
    figure(rgv_first_steps(rgv_by_run, colors), "rgv-first-steps")
    st.caption("Whole-model RGV of the kept weights over the fine-tuning steps after pruning (for a gradual "
               "method: the steps it prunes during). A method that keeps sentinels should start and stay lower.")
    figure(rgv_distribution(rgv_by_run, colors), "rgv-distribution")
    st.caption("Each box: every layer × module's RGV at every fine-tuning step of that run.")
with before:
    if not probed:
        st.info("No run has a noise probe: runs record one unless `probe.batches = 0`.")
    else:
        labels = list(probed)
        left, right = st.columns([3, 1])
        chosen = left.multiselect("Runs to overlay", labels, default=[run.label] if run.label in probed else labels[:1],
                                  key="noise_runs", bind="query-params")
        subset = right.radio("Weights", ["all", "kept", "pruned"], horizontal=True, key="noise_subset",
                             bind="query-params")
        probe_by_run = {label: table(probed[label], "rgv") for label in chosen}
        figure(rgv_distributions(probe_by_run, subset), "rgv-distributions")
        focus = probed.get(run.label) or probed[chosen[0] if chosen else labels[0]]
        st.markdown(f"**{focus.label}**: RGV per module type over probe steps (all layers pooled)")
        figure(rgv_over_steps(table(focus, "rgv")), "rgv-over-steps")
        st.markdown("RGV of the weights each run keeps and of those it prunes (one point per probe step)")
        figure(kept_vs_pruned(probe_by_run), "kept-vs-pruned")
        st.markdown("Per weight: the element-wise variation |g_t − g_{t−1}| / |g_{t−1}|")
        figure(variation_histogram(table(focus, "histograms")), "variation-histogram")
with scale:
    scaled = runs_with("noise_scale")
    if run.label not in scaled:
        st.info("This run recorded no gradient noise scale (runs made before it was recorded).")
    else:
        value = st.radio("Measure", ["b_simple", "snr"], horizontal=True, key="noise_measure", bind="query-params",
                         format_func={"b_simple": "noise scale B_simple", "snr": "gradient SNR"}.get)
        figure(noise_scale_bars(table(run, "noise_scale"), value), "noise-scale-bars")
        st.caption("From the running sums of g and g² over N batches of size B (McCandlish et al. 2018): "
                   "tr(Σ) = Σ unbiased variances of the batch gradient, ‖G‖² = ‖mean g‖² − tr(Σ)/N, SNR = ‖G‖²/tr(Σ), "
                   "B_simple = B / SNR: the batch size beyond which larger batches stop paying off. Before pruning "
                   "the weights are fixed; during fine-tuning they move, which adds to the variance.")
with versus:
    images = {f"{r.manifest['model']} · {label}": r for label, r in probed.items()
              if r.manifest["data"]["name"] == "fashion-mnist" and r.manifest["sparsity"] == 0}
    if len({r.manifest["model"] for r in images.values()}) < 2:
        st.info("Compare a tiny ViT with a small CNN trained briefly on Fashion-MNIST: the demo computes "
                "both, or run `python -m pruning run configs/fashion_noise.toml` and the same with "
                "`--set model.name='\"small-cnn\"'`.")
    else:
        figure(rgv_by_model({label: table(r, "rgv") for label, r in images.items()}), "rgv-by-model")
