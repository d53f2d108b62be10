"""The path explorer, speed table and sub-network spec on a real tiny path, and the Solution path
page on a run directory assembled from a real tiny search, read-offs, recovery and timings."""

import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.path_figures import (
    GRID,
    block_label,
    first_dropped_ratio,
    order_diagnosis,
    path_explorer,
    removal_sparsity,
    speed_table,
    subnetwork_spec,
)
from analysis.solution_path import KINDS, SolutionPath
from analysis.store import load_table, read_run

from .conftest import ROOT, spp_smoke_config
from .test_app import _charts

RECOVER = (0.3, 0.5, 0.7)


@pytest.fixture(scope="module")
def spp_run(smoke_runs):
    """The smoke runs' SPP run, made by the runner (search, read-offs, recovery, costs)."""
    return read_run(smoke_runs / spp_smoke_config().run_id)


@pytest.fixture(scope="module")
def path(spp_run):
    return SolutionPath.load(spp_run.path / "path.safetensors")


def _hand_metrics(sparsities, accuracies, dense=0.9, recovered=None):
    rows = [(0, 0.0, "dense", "accuracy", dense)]
    rows += [(0, s, "readoff", "accuracy", a) for s, a in zip(sparsities, accuracies, strict=True)]
    rows += [(40, s, "recovered", "accuracy", a) for s, a in (recovered or {}).items()]
    return pd.DataFrame(rows, columns=["step", "sparsity", "split", "metric", "value"])


def _index(fig, name):
    return next(i for i, t in enumerate(fig.data) if t.name == name)


def _shares(path, sparsity, budget="global"):
    """Kept share and 'kept/total' per block x kind, from block_masks (not the figure's bincount)."""
    masks = path.block_masks(path.masks_at(sparsity, budget))
    z = [[masks[k][b].mean() for k in KINDS] for b in range(len(path.blocks))]
    text = [[f"{masks[k][b].sum()}/{len(masks[k][b])}" for k in KINDS] for b in range(len(path.blocks))]
    return z, text


def test_block_labels_name_the_layer_and_the_tower():
    assert block_label("bert.encoder.layer.3") == "layer 3"
    assert block_label("vision_model.encoder.layers.0") == "vision 0"
    assert block_label("clip.text_model.encoder.layers.11") == "text 11"
    assert block_label("model.layers.7") == "layer 7"


def test_slider_has_one_step_per_read_off_sparsity(path):
    fig = path_explorer(path, _hand_metrics([0.1, 0.3, 0.5, 0.7, 0.9], [0.8, 0.7, 0.6, 0.5, 0.4]))
    [slider] = fig.layout.sliders
    assert [s.label for s in slider.steps] == ["10%", "30%", "50%", "70%", "90%"]
    assert {s.method for s in slider.steps} == {"update"} and slider.active == 2
    assert len(path_explorer(path).layout.sliders[0].steps) == len(GRID) == 19  # no metrics: the 5% grid


@pytest.mark.parametrize("budget", ["global", "authors"])
def test_each_step_sets_the_heatmap_to_the_kept_shares(path, budget):
    fig = path_explorer(path, budget=budget, sparsities=[0.2, 0.5, 0.8])
    heat = _index(fig, "kept share")
    for sparsity, step in zip([0.2, 0.5, 0.8], fig.layout.sliders[0].steps, strict=True):
        data, _, traces = step.args
        at = traces.index(heat)
        z, text = _shares(path, sparsity, budget)
        np.testing.assert_allclose(np.array(data["z"][at], float), z)
        assert data["text"][at] == text
    assert fig.data[heat].y == ("layer 0", "layer 1") and fig.data[heat].x == ("QK", "VO", "FFN")


def test_markers_follow_the_read_off(path):
    sparsities, accuracy = [0.1, 0.5, 0.9], [0.81, 0.62, 0.33]
    fig = path_explorer(path, _hand_metrics(sparsities, accuracy, recovered={0.5: 0.7}), sparsities=sparsities)
    joined, current, bars = _index(fig, "joined by"), _index(fig, "current read-off"), _index(fig, "params kept")
    for s, acc, step in zip(sparsities, accuracy, fig.layout.sliders[0].steps, strict=True):
        data, _, traces = step.args
        keep = path.masks_at(s)
        join = path.join_step[keep]
        by = path.steps[-1] if (join < 0).any() else join.max()
        assert data["x"][traces.index(joined)] == [by, by]
        said = data["text"][traces.index(joined)][1]
        assert said == (f"{(join >= 0).mean():.0%} of the kept joined by {by}" if (join < 0).any()
                        else f"all kept joined by {by}")  # never "all" while some kept entries never joined
        assert data["x"][traces.index(current)] == [100 * s] and data["y"][traces.index(current)] == [acc]
        per_type = [path.weight[keep & (path.kind == k)].sum() / path.weight[path.kind == k].sum() for k in range(3)]
        np.testing.assert_allclose(data["y"][traces.index(bars)], [*per_type, 1 - path.sparsity_of(keep)])
    # the figure opens on the active step
    first = fig.layout.sliders[0].steps[fig.layout.sliders[0].active].args
    assert list(fig.data[current].x) == first[0]["x"][first[2].index(current)] == [50.0]
    assert list(fig.data[_index(fig, "recovered")].y) == [0.7]
    assert fig.layout.shapes[0].y0 == pytest.approx(0.9)  # the dense line


def test_path_panel_draws_the_norm_of_gamma_per_block_and_type(path):
    fig = path_explorer(path)
    lines = {t.name: t for t in fig.data if t.name in ("QK", "VO", "FFN")}  # one trace per type, blocks split by gaps
    assert len(lines) == 3 and len(lines["FFN"].x) == len(path.blocks) * (len(path.steps) + 1)
    width = len(path.steps) + 1
    ffn = lines["FFN"]
    rows = (path.block == 1) & (path.kind == 2)
    np.testing.assert_allclose(ffn.y[width:2 * width - 1], np.linalg.norm(path.gamma[rows], axis=0), rtol=1e-6)
    assert list(ffn.x[width:2 * width - 1]) == list(path.steps) and np.isnan(ffn.y[2 * width - 1])
    assert set(ffn.customdata[width:2 * width]) == {block_label(path.blocks[1])}  # the hover names block 1


def test_empty_states_say_why():
    assert "no solution path" in path_explorer(None).layout.annotations[0].text
    assert speed_table(pd.DataFrame()).empty


def test_speed_table_ratios_by_hand():
    speed = pd.DataFrame([(0.5, "dense", 1000, 40.0, 10.0), (0.5, "masked", 1000, 40.0, 12.0),
                          (0.5, "compressed", 600, 20.0, 5.0), (0.5, "dense onnxruntime", 1000, 40.0, 8.0),
                          (0.5, "compressed onnxruntime", 600, 20.0, 2.0)],
                         columns=["sparsity", "model", "params", "flops", "latency_ms"])
    row = speed_table(speed).iloc[0]
    assert row["params ratio"] == 0.6 and row["FLOPs ratio"] == 0.5 and row["speed-up"] == 2.0
    assert row["masked ms"] == 12.0 and row["onnxruntime speed-up"] == 4.0


def test_subnetwork_spec_lists_the_kept_indices(path):
    spec = json.loads(json.dumps(subnetwork_spec(path, 0.5)))
    masks = path.block_masks(path.masks_at(0.5))
    assert [b["label"] for b in spec["blocks"]] == ["layer 0", "layer 1"]
    for b, block in enumerate(spec["blocks"]):
        for kind in KINDS:
            assert block[kind] == np.flatnonzero(masks[kind][b]).tolist()
            assert block["sizes"][kind] == len(masks[kind][b])
    assert spec["kept_params"] == path.kept_params(path.masks_at(0.5)) and spec["total_params"] == path.total_params


def test_the_run_holds_real_read_offs(spp_run):
    metrics, speed = load_table(spp_run, "metrics"), load_table(spp_run, "speed")
    readoff = metrics[(metrics["split"] == "readoff") & (metrics["metric"] == "accuracy")]
    assert sorted(readoff["sparsity"]) == list(GRID) and readoff["value"].between(0, 1).all()
    table = speed_table(speed)
    assert list(table["sparsity"]) == list(RECOVER) and (table["params ratio"] < 1).all()


def test_solution_path_page_on_a_real_run(monkeypatch, spp_run):
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(spp_run.path.parent))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/solution_path.py").run()
    assert not at.exception, [e.value for e in at.exception]
    chart, diagnosis = _charts(at)
    assert len(chart["layout"]["sliders"][0]["steps"]) == len(GRID)
    assert diagnosis["layout"]["yaxis"]["type"] == "log"
    assert [m.label for m in at.metric][:2] == ["Search", "Structured parameters"]
    [command] = [c.value for c in at.code if "pruning export" in c.value]
    run_id = spp_run.run_id
    assert command.startswith(f"python -m pruning export {run_id} --sparsity 0.5 --out exports/{run_id}-50")
    assert len(at.dataframe) == 1 and list(at.dataframe[0].value["sparsity"]) == list(RECOVER)
    at.select_slider(key="readoff").set_value(0.7).run()
    assert any("--sparsity 0.7" in c.value for c in at.code)  # the export writes what the figure opens at
    slider = _charts(at)[0]["layout"]["sliders"][0]
    assert slider["steps"][slider["active"]]["label"] == "70%"


def test_solution_path_page_without_spp_runs_says_how_to_make_one(monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/solution_path.py").run()
    assert not at.exception
    assert any("No Solution Path Pruning run yet" in i.value for i in at.info)
    assert [c.value for c in at.code] == ["python -m pruning run configs/spp.toml"]


def test_the_picker_offers_only_spp_runs_on_this_page(monkeypatch, spp_run):
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(spp_run.path.parent))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert len(at.sidebar.selectbox(key="run_picker").options) == 5  # the other pages: runs at one sparsity
    at.switch_page("views/layer_sparsity.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page("views/solution_path.py").run()
    assert not at.exception, [e.value for e in at.exception]
    expected = f"tiny-bert · sms-spam · SPP · path · seed 0 · {spp_run.run_id}"
    assert at.sidebar.selectbox(key="run_picker_spp").options == [expected]


def test_removal_sparsity_follows_the_rank_and_the_budget(path):
    removed = removal_sparsity(path)
    order = np.argsort(path.rank)
    assert np.all(np.diff(removed[order]) < 0) and removed[order[0]] == 1.0  # ranked later, removed earlier
    for s in (0.2, 0.5):  # a global read-off at s removes exactly the entries removed from s on
        np.testing.assert_array_equal(~path.masks_at(s), removed <= s)


def test_order_diagnosis_by_hand():
    weight = np.ones(4)
    grads = np.array([4.0, 3.0, 2.0, 1.0], np.float32)
    base = dict(blocks=("b",), block=np.zeros(4, int), kind=np.full(4, 2), index=np.arange(4), weight=weight,
                priority=np.zeros(4), join_step=np.full(4, -1), gamma=np.zeros((4, 0), np.float32),
                steps=np.zeros(0, int), loss=np.zeros(0), accuracy=np.zeros(0), grad_mean=grads, grad_abs=grads)
    good = SolutionPath(rank=np.arange(4), **base)  # largest gradient kept longest
    bad = SolutionPath(rank=np.arange(4)[::-1], **base)
    assert first_dropped_ratio(good, 0.25) == pytest.approx(1.0 / 2.5)
    assert first_dropped_ratio(bad, 0.25) == pytest.approx(4.0 / 2.5)
    assert len(order_diagnosis(good).data) == 3
    silent = SolutionPath(rank=np.arange(4), **{**base, "grad_mean": np.zeros(0), "grad_abs": np.zeros(0)})
    assert np.isnan(first_dropped_ratio(silent))
    assert "no gradients" in order_diagnosis(silent).layout.annotations[0].text
