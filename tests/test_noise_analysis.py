"""Noise aggregations and figures on small hand-made frames: sums of norms, classes, shares."""

import numpy as np
import pandas as pd
import pytest

from analysis.noise import classify, grouped_rgv, kept_shares, with_labels
from analysis.noise_figures import rgv_by_model, rgv_distributions, sentinel_scatter, sentinel_shares


def _rgv():
    return pd.DataFrame({
        "step": [1, 1, 1, 1], "layer": [0, 1, 0, -1], "module": ["q", "q", "ffn_in", "pooler"],
        "subset": ["all"] * 4, "numerator": [1.0, 3.0, 2.0, 4.0], "denominator": [2.0, 2.0, 4.0, 0.0],
        "rgv": [0.5, 1.5, 0.5, np.nan],
    })


def test_group_rgv_is_the_ratio_of_summed_norms_not_a_mean_of_ratios():
    by_module = grouped_rgv(_rgv(), ["module"]).set_index("module")["rgv"]
    assert by_module["q"] == pytest.approx(4 / 4) and by_module["ffn_in"] == pytest.approx(0.5)
    assert "pooler" not in by_module  # a zero denominator has no RGV
    assert grouped_rgv(_rgv(), ["subset"])["rgv"].item() == pytest.approx(10 / 8)


def test_display_order_blocks_then_after_blocks_and_roles_canonically():
    ordered = with_labels(_rgv())
    assert list(zip(ordered["layer_name"], ordered["module_name"], strict=True)) == [
        ("layer 0", "query"), ("layer 0", "ffn in"), ("layer 1", "query"), ("after blocks", "pooler")]


def test_classes_and_kept_shares():
    sample = pd.DataFrame({"saliency": [1e-3, 1e-3, 1e-6, 1e-2], "snr": [2.0, 0.5, 5.0, 1.0],
                           "top_saliency": [True, True, False, True]})
    assert classify(sample).tolist() == ["SW", "TSW", "other", "SW"]
    assert classify(sample, snr_threshold=3.0).tolist() == ["TSW", "TSW", "other", "TSW"]
    assert classify(sample, log_saliency_threshold=-2.5).tolist() == ["other", "other", "other", "SW"]
    sentinels = pd.DataFrame({"layer": [-1, 0, 0, 1], "module": ["pooler", "q", "k", "q"], "top": [1, 10, 10, 10],
                              "sw": [1, 6, 4, 5], "tsw": [0, 4, 6, 5], "sw_kept": [1, 6, 2, 5],
                              "tsw_kept": [0, 1, 1, 0], "sw_kept_snip": [0, 3, 2, 5], "tsw_kept_snip": [0, 4, 6, 5]})
    shares = kept_shares(sentinels, "SEVENpre").set_index(["layer_name", "who", "class"])["share"]
    assert shares[("layer 0", "SEVENpre", "SW")] == pytest.approx(8 / 10)
    assert shares[("layer 0", "SNIP, same density", "TSW")] == pytest.approx(10 / 10)
    assert shares[("all layers", "SEVENpre", "TSW")] == pytest.approx(2 / 15)
    order = kept_shares(sentinels, "SEVENpre")["layer_name"].unique().tolist()
    assert order == ["layer 0", "layer 1", "after blocks", "all layers"]
    fig = sentinel_shares(kept_shares(sentinels, "SEVENpre"), "#2ca02c")
    assert {t.name for t in fig.data} == {"SEVENpre", "SNIP, same density"} and len(fig.data) == 4
    assert {t.marker.color for t in fig.data} == {"#2ca02c", "#9e9e9e"}  # the run's colour, SNIP grey


def test_noise_figures_draw_their_data_and_say_why_when_empty():
    fig = rgv_distributions({"a": _rgv(), "b": _rgv()}, "all")
    assert [t.name for t in fig.data] == ["a", "b"] and fig.layout.yaxis.type == "log"
    assert "No RGV" in rgv_distributions({"a": _rgv()}, "kept").layout.annotations[0].text
    sample = pd.DataFrame({"saliency": [1e-3, 1e-5], "snr": [2.0, 0.1], "top_saliency": [True, False]})
    scatter = sentinel_scatter(sample, classify(sample), 1.0)
    assert [t.type for t in scatter.data] == ["scattergl"] * 3
    assert [t.name for t in scatter.data] == ["SW (1)", "TSW (0)", "other (1)"]
    assert rgv_by_model({"vit": _rgv()}).data[0].y.tolist()[:3] == [0.5, 1.5, 0.5]


def test_a_box_selection_maps_each_point_to_its_sample_row():
    """Points as Streamlit reports a box selection on the WebGL scatter (trace and index within it,
    no customdata): each is the sample row drawn there."""
    from analysis.noise_figures import selected_rows

    sample = pd.DataFrame({"saliency": [1e-3, 1e-5, 2e-3, 1e-6], "snr": [2.0, 0.1, 3.0, 0.05],
                           "top_saliency": [True, False, True, True]}, index=[10, 11, 12, 13])
    classes = classify(sample)
    scatter = sentinel_scatter(sample, classes, 1.0)
    points = [{"curve_number": c, "point_index": i, "x": float(trace.x[i]), "y": float(trace.y[i])}
              for c, trace in enumerate(scatter.data) for i in range(len(trace.x))]
    rows = selected_rows(points, sample, classes)
    assert sorted(rows.index) == [10, 11, 12, 13]
    for point, (_, row) in zip(points, rows.iterrows(), strict=True):
        assert point["x"] == pytest.approx(np.log10(row["saliency"]))
    assert selected_rows([], sample, classes).empty
