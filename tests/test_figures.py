"""Figure builders on small frames: what each trace holds, and the explicit empty states."""

import pandas as pd
import pytest

from analysis.figures import accuracy_bands, layer_sparsity_heatmap, sparsity_grid, training_curves

COLORS = {"dense": "#8c8c8c", "magnitude": "#1f77b4", "random": "#7f7f7f"}


def _runs(rows):
    columns = ["status", "method", "sparsity", "seed", "val_accuracy"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(color=frame["method"].map(COLORS))


def test_accuracy_bands_average_seeds_and_draw_the_dense_line():
    runs = _runs([
        ("done", "dense", 0.0, 0, 0.90), ("done", "dense", 0.0, 1, 0.92),
        ("done", "magnitude", 0.5, 0, 0.80), ("done", "magnitude", 0.5, 1, 0.84),
        ("done", "magnitude", 0.9, 0, 0.60), ("done", "random", 0.5, 0, 0.55),
        ("failed", "random", 0.9, 0, None),
    ])
    fig = accuracy_bands(runs)
    traces = {t.name: t for t in fig.data if t.name}
    assert set(traces) == {"magnitude", "random"}
    assert list(traces["magnitude"].x) == [50.0, 90.0]
    assert list(traces["magnitude"].y) == pytest.approx([0.82, 0.60])
    assert traces["magnitude"].line.color == "#1f77b4"  # the colour the runs record
    bands = [t for t in fig.data if t.fill == "toself"]
    assert [b.legendgroup for b in bands] == ["magnitude"]  # random has one seed: no band
    assert fig.layout.shapes[0].y0 == pytest.approx(0.91)
    assert fig.layout.annotations[0].text == "dense 0.910"


def _history(losses, accuracies):
    rows = [(s, "train", "loss", v) for s, v in losses] + [(s, "validation", "accuracy", v) for s, v in accuracies]
    return pd.DataFrame(rows, columns=["step", "split", "metric", "value"])


def test_training_curves_put_stages_one_after_another_on_one_step_axis():
    dense = _history([(1, 0.7), (2, 0.5), (3, 0.3), (4, 0.1)], [(0, 0.5), (4, 0.9)])
    pruned = _history([(1, 0.6), (2, 0.2)], [(0, 0.6), (2, 0.8)])
    fig = training_curves({"dense": dense, "magnitude · 50%": pruned}, {"dense": "#8c8c8c"}, smooth=2)
    loss, accuracy, pruned_loss, pruned_accuracy = fig.data
    assert list(accuracy.x) == [0, 4]
    assert list(loss.y) == pytest.approx([0.7, 0.6, 0.4, 0.2])  # rolling mean over 2 steps
    assert list(pruned_loss.x) == [5, 6] and list(pruned_accuracy.x) == [4, 6]  # offset by the dense stage's 4 steps
    assert list(pruned_accuracy.y) == [0.6, 0.8]  # the pruned model before recovery, then after
    assert {s.x0 for s in fig.layout.shapes} == {4}  # where pruning happened, in both panels
    assert [t.showlegend for t in fig.data] == [True, False, True, False] and loss.line.color == "#8c8c8c"
    assert "no training history" in training_curves({"dense": dense.iloc[:0]}, {}).layout.annotations[0].text


def test_empty_states_say_why():
    fig = accuracy_bands(_runs([("failed", "random", 0.5, 0, None)]))
    assert not fig.data and "No finished pruned runs" in fig.layout.annotations[0].text
    assert "no prunable weights" in layer_sparsity_heatmap(pd.DataFrame()).layout.annotations[0].text


def test_heatmap_orders_blocks_then_pooler_and_roles_canonically():
    layers = pd.DataFrame({
        "layer": [1, 0, -1, 0, 1], "module": ["ffn_in", "q", "pooler", "ffn_in", "q"],
        "sparsity": [0.25, 0.5, 0.75, 0.1, 0.9],
    })
    grid = sparsity_grid(layers)
    assert list(grid.index) == [0, 1, -1] and list(grid.columns) == ["q", "ffn_in", "pooler"]
    heat = layer_sparsity_heatmap(layers).data[0]
    assert list(heat.y) == ["layer 0", "layer 1", "after blocks"] and list(heat.x) == ["query", "ffn in", "pooler"]
    assert heat.text[0][0] == "50.0%" and heat.text[2][0] == ""
    assert (heat.zmin, heat.zmax) == (0, 1)


def test_figure_table_has_a_row_per_point_and_per_heatmap_cell():
    import plotly.graph_objects as go

    from analysis.export import figure_table

    fig = go.Figure([go.Scatter(x=[0.5, 0.7], y=[0.9, 0.8], name="SNIP", customdata=[[1, "a"], [2, "b"]]),
                     go.Heatmap(z=[[1, 2, 3], [4, 5, 6]], x=["q", "k", "v"], y=["layer 0", "layer 1"], name="kept")])
    table = figure_table(fig)
    assert list(table.columns) == ["trace", "type", "x", "y", "z", "customdata"]
    snip = table[table["trace"] == "SNIP"]
    assert snip["y"].tolist() == [0.9, 0.8] and snip["customdata"].tolist() == ["[1, 'a']", "[2, 'b']"]
    cells = table[table["trace"] == "kept"]
    assert len(cells) == 6 and cells.set_index(["y", "x"]).loc[("layer 1", "k"), "z"] == 5


def test_small_multiples_put_each_grid_in_its_own_panel_of_one_trace():
    import numpy as np

    from analysis.compare_figures import heatmap_multiples
    from analysis.export import figure_table

    a = pd.DataFrame([[0.1, 0.2], [0.3, 0.4]], index=["layer 0", "layer 1"], columns=["query", "key"])
    b = pd.DataFrame([[0.5], [0.6]], index=["layer 0", "layer 1"], columns=["key"])  # no query column
    fig = heatmap_multiples({"SNIP": a, "random": b, "magnitude": a * 2}, "sparsity", "Blues", columns=2)
    (heat,) = fig.data
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (2 * 4 - 2, 2 * 3 - 1)  # two panels down and across, blank rows and a blank column
    assert z[1, 1] == 0.4 and np.isnan(z[0, 3]) and z[1, 4] == 0.6 and z[4, 0] == 0.2
    assert np.isnan(z[:, 2]).all() and np.isnan(z[2:4]).all() and np.isnan(z[4:, 3:]).all()
    assert list(heat.customdata[1][4]) == ["random", "layer 1", "key"]
    assert [t.text for t in fig.layout.annotations] == ["SNIP", "random", "magnitude"]
    assert list(fig.layout.xaxis.ticktext) == ["query", "key"] * 2
    cells = figure_table(fig)
    assert len(cells) == 4 + 2 + 4 and cells["customdata"].str.contains("random").sum() == 2
    assert not heatmap_multiples({"SNIP": pd.DataFrame()}, "sparsity", "Blues").data  # nothing to draw: said
