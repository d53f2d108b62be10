"""Compare methods: accuracy with seed bands, Pareto view, where each method prunes, how much
their masks and scores agree, the gradient noise of what they keep, and the numbers."""

import streamlit as st

from analysis.after_pruning import rgv_distribution, rgv_first_steps
from analysis.compare import accuracy_table
from analysis.compare_figures import agreement_matrix, allocation_multiples, pareto_view, pruned_by_size, training_loss
from analysis.figures import METRIC_LABELS, accuracy_bands
from analysis.findings import accuracy_finding
from analysis.labels import method_order
from analysis.noise_figures import kept_vs_pruned
from analysis.paired import against, curve_area, paired_grid
from analysis.store import has_table
from analysis.tables import final_metrics, train_loss
from ui.common import (
    empty_state,
    figure,
    pooled_warning,
    reading,
    recompute_commands,
    table,
    url_multiselect,
    url_selectbox,
)
from ui.compare_data import ALL_RUNS, agreement, correlation, magnitude_profile, scope_runs, scopes

st.title("Compare methods")
options = scopes()
if not options:
    empty_state()
    st.stop()
top = st.columns([2, 3, 2])
scope = url_selectbox(top[0], "Study or model · data", options, key="scope")
in_scope = scope_runs(scope)
frame = final_metrics(in_scope)
methods = method_order(m for m in frame["method"].unique() if m != "dense")
chosen = url_multiselect(top[1], "Methods", methods, key="compare_methods")
label = url_selectbox(top[2], "Metric", list(METRIC_LABELS.values()), key="compare_metric")
metric = next(key for key, text in METRIC_LABELS.items() if text == label)
frame = frame[frame["method"].isin([*chosen, "dense"])]
if scope.startswith(ALL_RUNS):
    shown = set(frame["run_id"])
    pooled_warning([r for r in in_scope if r.run_id in shown], "Pick a study above to compare like with like.")
shipped = [r for r in in_scope if r.shipped]
if shipped:
    st.info(f"{len(shipped)} of these {len(in_scope)} runs are shipped results, computed elsewhere and imported "
            "from a bundle (no masks or scores travel with them).")
    with st.expander("The commands that recompute them"):
        recompute_commands(shipped[0].shipped["command"])

reading("Methods pruned from the same dense model, on the same batches, seeds and fine-tuning budget. Top: "
        "accuracy against sparsity (mean over seeds, ± one std) and against weights kept. At one sparsity and "
        "seed: where each method prunes, how far their masks and scores agree, and the gradient noise of what "
        "each keeps. Bottom: every method minus a reference, seed by seed, with a 95% bootstrap interval: a "
        "difference counts only when its interval excludes 0.", accuracy_finding(frame, metric))
figure(accuracy_bands(frame, metric), "accuracy-bands")
st.caption("Lines: mean over seeds; bands: ± one standard deviation; dashed: the dense model. Every method "
           "pruned the same dense model, read the same batches and had the same fine-tuning budget.")

st.subheader("Accuracy against weights kept")
figure(pareto_view(frame, metric), "pareto-view")
st.caption("Unstructured masks keep the dense matrix shapes, so CPU latency does not change with them; the "
           "x-axis is the number of prunable weights kept.")

pruned = frame[frame["method"] != "dense"]
if pruned.empty:
    st.stop()


@st.fragment
def at_one_sparsity() -> None:
    """The views of one sparsity and seed: moving their controls reruns this part alone, so the
    charts above are not sent again."""
    st.subheader("At one sparsity")
    left, right = st.columns(2)
    sparsities = sorted(pruned["sparsity"].unique())
    sparsity = left.select_slider("Sparsity", sparsities, value=sparsities[len(sparsities) // 2],
                                  format_func=lambda s: f"{s:.0%}", key="compare_sparsity", bind="query-params")
    seeds = sorted(pruned[pruned["sparsity"] == sparsity]["seed"].unique())
    seed = right.selectbox("Seed", seeds, key="compare_seed", bind="query-params")
    picked = pruned[(pruned["sparsity"] == sparsity) & (pruned["seed"] == seed)].drop_duplicates("method")
    by_id = {r.run_id: r for r in in_scope}
    run_of = dict(zip(picked["method"], picked["run_id"], strict=True))
    at = {method: by_id[run_of[method]] for method in method_order(run_of)}
    paths = tuple((name, str(run.path)) for name, run in at.items())
    colors = {name: run.color for name, run in at.items()}

    allocation, sizes, agreeing, losses, after, noise = st.tabs([
        "Per-layer allocation", "Pruned by size", "Mask and score agreement", "Training loss",
        "Gradient noise after pruning", "Noise before pruning"], key="compare_tab", bind="query-params")
    if allocation.open:  # lazy: only the chosen tab computes (masks and weights are read on demand)
        with allocation:
            layers = {name: table(run, "layers") for name, run in at.items()}
            figure(allocation_multiples(layers), "allocation-multiples")
    if sizes.open:
        with sizes:
            profiles = {name: magnitude_profile(str(run.path)) for name, run in at.items()}
            profiles = {name: profile for name, profile in profiles.items() if profile is not None}
            figure(pruned_by_size(profiles, colors, sparsity), "pruned-by-size")
            st.caption("Every prunable weight binned by the percentile of its |θ| among the dense weights of its "
                       "own matrix, and the share of each bin the method pruned. Magnitude pruning prunes the low "
                       "bins only; a method that prunes many of the largest 1% removes the outlier weights "
                       "transformers rely on most.")
    if agreeing.open:
        with agreeing:
            with_masks = tuple((name, path) for name, path in paths if (at[name].path / "masks.safetensors").exists())
            if len(with_masks) < 2:
                st.info("Agreement needs the masks and scores of at least two runs; shipped runs carry none.")
            else:
                a, b = st.columns(2)
                figure(agreement_matrix(agreement(with_masks), "Jaccard of kept weights"), "kept-weights-jaccard",
                       container=a)
                figure(agreement_matrix(correlation(with_masks), "Spearman of scores", zmin=-1.0), "scores-spearman",
                       container=b)
            st.caption("Jaccard = |A ∩ B| / |A ∪ B| over all prunable weights. Spearman is taken within each weight "
                       "matrix on the same 2,000 sampled weights, then averaged weighted by matrix size; for gradual "
                       "methods it compares the scores at the end of fine-tuning.")
    if losses.open:
        with losses:
            train = {name: train_loss(table(run, "metrics")) for name, run in at.items()}
            windows = {name: run.manifest["budget"]["prune_window"] for name, run in at.items()
                       if "prune_window" in run.manifest.get("budget", {})}
            figure(training_loss(train, colors, windows), "training-loss")
            st.caption("The loss of each run's fine-tuning after pruning (one-shot and iterative methods) or while "
                       "pruning (gradual methods; shaded: the steps they prune over, where recorded). A loss that "
                       "jumps to ln 2 = 0.693 on two classes is a model that predicts one class.")
    if after.open:
        with after:
            tuned = {name: table(run, "finetune_rgv") for name, run in at.items() if has_table(run, "finetune_rgv")}
            figure(rgv_first_steps(tuned, colors), "rgv-first-steps")
            figure(rgv_distribution(tuned, colors), "rgv-distribution")
            st.caption("The SEVEN paper's Fig. 2 and 5 as we measure them: the RGV of each pruned model's "
                       "gradients on the weights it kept, step after step of its recovery fine-tuning (gradual "
                       "methods: of the fine-tuning they prune during). The paper's claim: after SNIP, GraSP and "
                       "FORCE it jumps; after SEVEN it stays steady.")
    if noise.open:
        with noise:
            probed = {name: table(run, "rgv") for name, run in at.items() if has_table(run, "rgv")}
            figure(kept_vs_pruned(probed), "kept-vs-pruned")
            st.caption("Before pruning: the RGV of each method's kept and pruned weights at the dense weights they "
                       "were pruned from, one point per probe step.")


at_one_sparsity()

st.subheader("The numbers")
numbers = accuracy_table(frame[frame["method"] != "dense"], metric)
area = curve_area(frame, metric)
numbers = numbers.assign(**{"area (mean over the common range)": area.reindex(numbers.index).map("{:.3f}".format)})
st.dataframe(numbers, width="stretch", height=38 + 35 * len(numbers))
st.caption(f"{label}: mean ± standard deviation over seeds (number of seeds); the area is the trapezoid of the "
           "seed means over the sparsities every method ran, divided by their span.")
reference = st.selectbox("Paired against", methods, index=methods.index("SNIP") if "SNIP" in methods else 0,
                         key="compare_reference", bind="query-params")
pairs = against(frame, reference, metric)
if pairs.empty:
    st.info(f"No method shares a sparsity and seeds with {reference} here.")
else:
    st.dataframe(paired_grid(pairs, "method"), width="stretch")
    st.caption(f"Each method minus {reference}, seed by seed, then the mean and a 95% bootstrap interval over the "
               "seeds; ahead / behind only when the interval excludes 0. With 3 seeds that needs every seed to "
               "agree.")
columns = ["run_id", "method", "sparsity", "seed", "val_accuracy", "val_f1", "val_mcc", "test_accuracy",
           "kept_weights", "duration_s"]
st.download_button("Download every run as CSV", frame[columns].to_csv(index=False), file_name="compare.csv",
                   mime="text/csv")
