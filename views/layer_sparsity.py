"""Layer sparsity: where the picked run pruned, per block and module, and per weight matrix."""

import streamlit as st

from analysis.figures import kept_pruned_histogram, layer_sparsity_heatmap
from analysis.findings import allocation_finding, sign_finding
from analysis.labels import ROLE_LABELS, layer_label, matrix_label
from analysis.sensitivity import (
    accuracy_drop,
    allocation_against_sensitivity,
    drop_by_module,
    most_sensitive,
    sensitivity_heatmap,
)
from analysis.store import has_table
from analysis.tables import layer_share
from ui.common import figure, page_with_run, reading, runs, table

run = page_with_run("Layer sparsity")

layers = table(run, "layers")
kept, total = int(layers["nonzero"].sum()), int(layers["numel"].sum())
a, b, c = st.columns(3)
a.metric("Method · seed", f"{run.method} · {run.manifest['seed']}")
b.metric("Sparsity of prunable weights", f"{1 - kept / total:.1%}")
c.metric("Weights kept", f"{kept / 1e6:.2f}M of {total / 1e6:.2f}M" if total > 1e5 else f"{kept:,} of {total:,}")
reading("Where the picked run pruned: each cell is the share of one block's module (query, key, …, ffn out) "
        "that its mask removed; a global criterion spreads sparsity unevenly, a per-layer one evenly. Below: how "
        "much each matrix can lose on its own (the sensitivity scan of the same dense model), each matrix's "
        "numbers, and what the run kept and pruned in |θ| and in its score.", allocation_finding(layers, run.method))
figure(layer_sparsity_heatmap(layers, title=run.label), "layer-sparsity-heatmap")

config = run.manifest["config"]
rule = config["model"].get("pooler")
if "pooler" in run.manifest.get("head", []):
    why = ("no training used it: all-MiniLM-L6-v2 mean-pools its tokens, and its pooler's weights are smaller "
           "than BERT's initialisation" if rule == "auto" else "the config says so")
    st.info(f"The pooler is part of the task head in this run (`model.pooler = \"{rule}\"`: {why}), so no method "
            "prunes it. `model.pooler = \"prune\"` prunes it with the blocks, as Chen et al. 2020 do for BERT.")


def _without_pooler(run_config: dict) -> dict:
    return {**run_config, "model": {**run_config["model"], "pooler": None}}


twins = [r for r in runs() if r.status == "done" and r.run_id != run.run_id
         and r.manifest["config"]["model"].get("pooler", rule) != rule
         and _without_pooler(r.manifest["config"]) == _without_pooler(config)]
if twins:
    st.markdown("**The same run under the other pooler rule**")
    rows = [dict(pooler=r.manifest["config"]["model"].get("pooler"), run=r.label,
                 pooler_sparsity=layer_share(table(r, "layers"), "pooler"),
                 validation_accuracy=r.manifest["results"]["validation"].get("accuracy"))
            for r in [run, *twins]]
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "pooler_sparsity": st.column_config.NumberColumn("pooler sparsity", format="percent")})


@st.fragment
def scan_at_level(scan, drops) -> None:
    """The scan at one sparsity: moving its slider reruns this part alone."""
    levels = sorted(drops["sparsity"].unique())
    middle = min(levels, key=lambda s: abs(s - 0.5))  # a default that does not follow the run: links stay exact
    level = st.select_slider("Each matrix alone pruned to", levels, value=middle, format_func="{:.0%}".format,
                             key="scan_sparsity", bind="query-params")
    rho = allocation_against_sensitivity(layers, drops, level)
    st.markdown(f"**{most_sensitive(drops, level)}**" + (
        f" {run.method} {'spared' if rho < 0 else 'pruned harder'} the matrices that are more sensitive at "
        f"{level:.0%} (Spearman ρ = {rho:+.2f} between its sparsity per matrix and the drop)." if rho is not None
        else ""))
    left, right = st.columns(2)
    figure(sensitivity_heatmap(drops, level), "sensitivity-heatmap", container=left)
    figure(drop_by_module(drops), "sensitivity-by-module", container=right)
    criterion, examples = scan.manifest["config"]["sensitivity"]["criterion"], scan.manifest["results"]["eval_examples"]
    st.caption(f"From {scan.label}: each prunable matrix of the dense model pruned alone by {criterion} within the "
               f"matrix, every other matrix dense, no recovery, evaluated on {examples} validation examples (one "
               f"example = {100 / examples:.2f} points: drops of one or two examples are noise). Drop = dense accuracy "
               "minus accuracy, in points (red: pruning it costs accuracy). Left: every matrix at the "
               "slider's sparsity; right: the mean over blocks per module at every sparsity.")


st.subheader("How much each matrix can lose on its own")
m = run.manifest
scans = [r for r in runs() if r.status == "done" and r.is_sensitivity and r.manifest["model"] == m["model"]
         and r.manifest["data"]["name"] == m["data"]["name"]]
scans.sort(key=lambda r: r.manifest.get("base_run") != m.get("base_run"))  # the scan of this run's dense run first
if not scans:
    st.info(f"No sensitivity scan of {m['model']} on {m['data']['name']} yet. A scan prunes each matrix alone to "
            "several sparsities, without recovery, and measures the accuracy drop: add a `[sensitivity]` table to "
            "this run's config (its `[prune]` removed), e.g. `python -m pruning run configs/sensitivity.toml`.")
else:
    scan = scans[0]
    drops = accuracy_drop(table(scan, "sensitivity"), scan.manifest["results"]["dense"]["accuracy"])
    scan_at_level(scan, drops)

if run.manifest.get("rewrites_weights") and "kept_change" in layers:
    st.subheader("How far pruning moved the weights it kept")
    st.caption(f"{run.method} rewrites the weights it keeps: each removal is compensated on the weights of the "
               "row not yet processed (the OBS update). Per matrix ‖(W′ − W) ⊙ M‖ / ‖W ⊙ M‖ over the kept entries "
               "M, right after pruning and before recovery fine-tuning; score-and-mask methods leave it 0.")
    figure(layer_sparsity_heatmap(layers, value="kept_change", label="relative change", colorscale="Oranges"),
           "kept-weights-moved")

details = layers.assign(
    layer=layers["layer"].map(layer_label), module=layers["module"].map(ROLE_LABELS),
    shape=[f"{r} × {c}" for r, c in zip(layers["rows"], layers["cols"], strict=True)],
)[["layer", "module", "shape", "nonzero", "numel", "sparsity", *(["kept_change"] if "kept_change" in layers else []),
   "name"]]
for layer, rows in details.groupby("layer", sort=False):
    share = 1 - rows["nonzero"].sum() / rows["numel"].sum()
    with st.expander(f"{layer}: {share:.1%} sparsity, {rows['nonzero'].sum():,} weights kept"):
        st.dataframe(rows.drop(columns="layer"), hide_index=True, width="stretch", column_config={
            "sparsity": st.column_config.NumberColumn(format="percent"),
            "nonzero": st.column_config.NumberColumn("non-zeros", format="localized"),
            "numel": st.column_config.NumberColumn("weights", format="localized"),
            "kept_change": st.column_config.NumberColumn("kept weights moved", format="percent"),
        })

if has_table(run, "weight_histograms"):
    st.subheader("What it kept and what it pruned, per matrix")
    histograms = table(run, "weight_histograms")
    names = list(dict.fromkeys(histograms["name"]))
    label = {n: matrix_label(layer, module) for n, layer, module in
             histograms[["name", "layer", "module"]].drop_duplicates("name").itertuples(index=False)}
    name = st.selectbox("Matrix", names, format_func=label.get, key="matrix", bind="query-params")
    rows = histograms[histograms["name"] == name]
    left, right = st.columns(2)
    figure(kept_pruned_histogram(rows, "magnitude", f"|θ| in {label[name]}"), "magnitude-histogram", container=left)
    figure(kept_pruned_histogram(rows, "score", f"{run.method}'s score in {label[name]}"), "score-histogram",
           container=right)
    signed = sign_finding(histograms, run.method)
    if signed:
        st.warning(signed)
    st.caption("Kept (green) and pruned (red) weights of one matrix, stacked, on log counts. Left: |θ| of the dense "
               "weights the run was pruned from; right: the score its masks were chosen by (asinh of the score over "
               "the matrix's median |score|: log-like for either sign). The dashed line is where kept and pruned "
               "separate; no line means they overlap: the method does not keep the top of that quantity (SNIP and "
               "|θ|), or its masks were not chosen by the final score (random, SparseGPT, an iterative method's "
               "rounds).")
elif run.manifest.get("sparsity"):
    st.info("This run predates the kept / pruned histograms per matrix: `python -m pruning histograms` adds them "
            "where the dense run's weights are in the runs folder (a shipped study carries tables only).")

if (run.path / "masks.safetensors").exists():
    with st.expander("Take this run's masks away"):
        st.download_button("Masks (safetensors: parameter name → bool)",
                           lambda: (run.path / "masks.safetensors").read_bytes(), f"masks-{run.run_id}.safetensors",
                           "application/octet-stream", on_click="ignore")
        st.markdown("The same masks in `torch.nn.utils.prune`'s layout (`weight_orig`, `weight_mask`) and the dense "
                    "model with them applied (`save_pretrained`, before recovery fine-tuning):")
        st.code(f"python -m pruning export {run.run_id} --out pruned-{run.run_id}", language="bash")
