"""Two runs side by side: results, where each pruned and their difference, training loss, and
what differs in their configs. Colours here are per run (A blue, B orange), so two runs of one
method are told apart."""

import streamlit as st

from analysis.compare_figures import training_loss
from analysis.figures import allocation_difference, layer_sparsity_heatmap
from analysis.findings import difference_finding
from analysis.store import has_table
from analysis.tables import config_diff, train_loss
from ui.common import empty_state, figure, reading, runs, table

COLORS = {"A": "#1f77b4", "B": "#ff7f0e"}

st.title("Two runs side by side")
done = {r.run_id: r for r in runs() if r.status == "done" and not r.is_path and has_table(r, "layers")}
if not done:
    empty_state()
    st.stop()
if len(done) < 2:
    st.info("Two finished runs are needed; there is one so far.")
    st.stop()
ids = list(done)
pruned = [i for i in ids if done[i].manifest.get("sparsity")]
left, right = st.columns(2)
a = done[left.selectbox("Run A", ids, index=ids.index(pruned[0]) if pruned else 0, format_func=lambda i: done[i].label,
                        key="a", bind="query-params")]
b = done[right.selectbox("Run B", ids, index=ids.index(pruned[1]) if len(pruned) > 1 else 1,
                         format_func=lambda i: done[i].label, key="b", bind="query-params")]
reading("The two heatmaps are where each run pruned (share of each block's module removed); the third is B "
        "minus A: red where B prunes more, blue where it keeps more. Below, their training loss and the config "
        "fields that differ.", difference_finding(table(a, "layers"), table(b, "layers")))

for column, name, run in ((left, "A", a), (right, "B", b)):
    results = run.manifest.get("results", {})
    one, two, three = column.columns(3)
    one.metric(f"{name}: validation accuracy", f"{results.get('validation', {}).get('accuracy', float('nan')):.3f}")
    two.metric("test accuracy", f"{results.get('test', {}).get('accuracy', float('nan')):.3f}")
    kept, total = results.get("kept_weights"), results.get("prunable_weights")
    three.metric("sparsity", f"{1 - kept / total:.1%}" if kept and total else "–")
    figure(layer_sparsity_heatmap(table(run, "layers"), title=f"{name}: {run.method}"), f"allocation-{name}",
           container=column)

layers_a, layers_b = table(a, "layers"), table(b, "layers")
figure(allocation_difference(layers_a, layers_b, "B − A: sparsity per block and module"), "allocation-difference")
losses = {f"A · {a.method}": train_loss(table(a, "metrics")), f"B · {b.method}": train_loss(table(b, "metrics"))}
windows = {label: run.manifest["budget"]["prune_window"] for label, run in zip(losses, (a, b), strict=True)
           if "prune_window" in run.manifest.get("budget", {})}
figure(training_loss(losses, dict(zip(losses, COLORS.values(), strict=True)), windows), "training-loss")
st.subheader("What differs in their configs")
diff = config_diff(a.manifest["config"], b.manifest["config"])
if diff.empty:
    st.info("The two configs are identical.")
else:
    st.dataframe(diff, hide_index=True, width="stretch")
