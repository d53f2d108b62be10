"""The path explorer, speed table and sub-network spec on a real tiny path, and the Solution path
page on a run directory assembled from a real tiny search, read-offs, recovery and timings."""

import itertools
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from analysis.path_figures import GRID, block_label, path_explorer, speed_table, subnetwork_spec
from analysis.solution_path import KINDS, SolutionPath
from analysis.store import SPEED_COLUMNS, RunWriter

from .conftest import ROOT, tiny_inputs
from .test_app import _charts

RECOVER = (0.3, 0.5, 0.7)


def _evaluate(model, batches) -> dict:
    """Mean loss and accuracy of `model` over `batches`."""
    losses, correct, count = [], 0, 0
    with torch.no_grad():
        for batch in batches:
            out = model(**batch)
            losses.append(float(out.loss))
            correct += int((out.logits.argmax(-1) == batch["labels"]).sum())
            count += len(batch["labels"])
    return {"loss": float(np.mean(losses)), "accuracy": correct / count}


def _masks(path: SolutionPath, keep, dtype=torch.bool) -> dict[str, list[torch.Tensor]]:
    return {k: [torch.from_numpy(v).to(dtype) for v in vs] for k, vs in path.block_masks(keep).items()}


def build_tiny_run(root) -> tuple:
    """A real SPP run of tiny-bert on random tokens: search, read-offs, recovery, costs."""
    from pruning.compress import compress
    from pruning.cost import flops_per_example, latencies_ms, parameters
    from pruning.models import load_model
    from pruning.spp import solution_path
    from pruning.structured import masked

    model = load_model("tiny-bert", 3).eval()
    train = [tiny_inputs("tiny-bert", batch=8, seed=s) for s in range(4)]
    subset = [tiny_inputs("tiny-bert", batch=8, seed=9)]
    val = [tiny_inputs("tiny-bert", batch=16, seed=s) for s in (10, 11, 12)]
    path = solution_path(model, itertools.cycle(train), evaluate=lambda m: _evaluate(m, subset), steps=60,
                         checkpoints=12, alpha=2.0, nu=5.0, lam=0.2)
    dense = _evaluate(model, val)
    rows = [(0, 0.0, "dense", k, v) for k, v in dense.items()]
    for c, step in enumerate(path.steps):
        s = path.sparsity_of(path.gamma[:, c] != 0)
        rows += [(int(step), s, "path", "loss", path.loss[c]), (int(step), s, "path", "accuracy", path.accuracy[c])]
    for s in GRID:
        with masked(model, _masks(path, path.masks_at(s), torch.float32)):
            rows += [(0, s, "readoff", k, v) for k, v in _evaluate(model, val).items()]
    costs, timing = [], {k: v for k, v in val[0].items() if k != "labels"}
    for s in RECOVER:
        masks = _masks(path, path.masks_at(s))
        small = compress(model, masks)
        float_masks = {k: [m.float() for m in vs] for k, vs in masks.items()}

        def masked_forward(b, float_masks=float_masks):
            with masked(model, float_masks):
                return model(**b)

        forwards = {"dense": lambda b: model(**b), "masked": masked_forward, "compressed": lambda b, m=small: m(**b)}
        ms = latencies_ms(forwards, timing, repeats=3)
        costs += [(s, name, parameters(small if name == "compressed" else model), flops_per_example(f, timing),
                   ms[name]) for name, f in forwards.items()]
        torch.manual_seed(0)
        small.train()
        optimizer = torch.optim.AdamW(small.parameters(), lr=1e-3)
        for batch in train * 2:
            optimizer.zero_grad()
            small(**batch).loss.backward()
            optimizer.step()
        small.eval()
        rows += [(8, s, "recovered", k, v) for k, v in _evaluate(small, val).items()]
    spp = {**path.hparams, "budget": "global"}
    writer = RunWriter(root, "spp0tiny0000", {
        "method": "spp", "method_label": "SPP", "sparsity": 0.0, "seed": 0, "model": "tiny-bert",
        "config": {"spp": spp},
        "data": {"name": "random tokens", "sizes": {"train": 32, "validation": 48}},
    })
    path.save(writer.path / "path.safetensors")
    metrics = pd.DataFrame(rows, columns=["step", "sparsity", "split", "metric", "value"])
    writer.table("metrics", metrics)
    speed = pd.DataFrame(costs, columns=SPEED_COLUMNS)
    writer.table("speed", speed)
    target = writer.finish(results={"validation": dense, "structured_params": path.total_params})
    return target, path, metrics, speed


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return build_tiny_run(tmp_path_factory.mktemp("spp"))


@pytest.fixture(scope="module")
def path(tiny_run):
    return tiny_run[1]


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
    lines = [t for t in fig.data if t.name in ("QK", "VO", "FFN")]
    assert len(lines) == 3 * len(path.blocks) and sum(bool(t.showlegend) for t in lines) == 3
    rows = (path.block == 1) & (path.kind == 2)
    ffn1 = [t for t in lines if t.name == "FFN"][1]
    np.testing.assert_allclose(ffn1.y, np.linalg.norm(path.gamma[rows], axis=0), rtol=1e-6)
    assert list(ffn1.x) == list(path.steps)


def test_empty_states_say_why():
    assert "no solution path" in path_explorer(None).layout.annotations[0].text
    assert speed_table(pd.DataFrame()).empty


def test_speed_table_ratios_by_hand():
    speed = pd.DataFrame([(0.5, "dense", 1000, 40.0, 10.0), (0.5, "masked", 1000, 40.0, 12.0),
                          (0.5, "compressed", 600, 20.0, 5.0)],
                         columns=["sparsity", "model", "params", "flops", "latency_ms"])
    row = speed_table(speed).iloc[0]
    assert row["params ratio"] == 0.6 and row["FLOPs ratio"] == 0.5 and row["speed-up"] == 2.0
    assert row["masked ms"] == 12.0


def test_subnetwork_spec_lists_the_kept_indices(path):
    spec = json.loads(json.dumps(subnetwork_spec(path, 0.5)))
    masks = path.block_masks(path.masks_at(0.5))
    assert [b["label"] for b in spec["blocks"]] == ["layer 0", "layer 1"]
    for b, block in enumerate(spec["blocks"]):
        for kind in KINDS:
            assert block[kind] == np.flatnonzero(masks[kind][b]).tolist()
            assert block["sizes"][kind] == len(masks[kind][b])
    assert spec["kept_params"] == path.kept_params(path.masks_at(0.5)) and spec["total_params"] == path.total_params


def test_the_run_holds_real_read_offs(tiny_run):
    _, _, metrics, speed = tiny_run
    readoff = metrics[(metrics["split"] == "readoff") & (metrics["metric"] == "accuracy")]
    assert sorted(readoff["sparsity"]) == list(GRID) and readoff["value"].between(0, 1).all()
    table = speed_table(speed)
    assert list(table["sparsity"]) == list(RECOVER) and (table["params ratio"] < 1).all()


def test_solution_path_page_on_a_real_tiny_run(monkeypatch, tiny_run):
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(tiny_run[0].parent))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/solution_path.py").run()
    assert not at.exception, [e.value for e in at.exception]
    [chart] = _charts(at)
    assert len(chart["layout"]["sliders"][0]["steps"]) == len(GRID)
    assert [m.label for m in at.metric][:2] == ["Search", "Structured parameters"]
    [command] = [c.value for c in at.code if "pruning export" in c.value]
    assert command.startswith("python -m pruning export spp0tiny0000 --sparsity 0.5 --out exports/spp0tiny0000-50")
    assert len(at.dataframe) == 1 and list(at.dataframe[0].value["sparsity"]) == list(RECOVER)
    at.select_slider(key="spp_export_sparsity").set_value(0.7).run()
    assert any("--sparsity 0.7" in c.value for c in at.code)


def test_solution_path_page_without_spp_runs_says_how_to_make_one(monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/solution_path.py").run()
    assert not at.exception
    assert any("No Solution Path Pruning run yet" in i.value for i in at.info)
    assert [c.value for c in at.code] == ["python -m pruning run configs/spp.toml"]


def test_the_picker_offers_only_spp_runs_on_this_page(monkeypatch, tiny_run, smoke_runs, tmp_path):
    shutil.copytree(smoke_runs, tmp_path / "runs")
    shutil.copytree(tiny_run[0], tmp_path / "runs" / tiny_run[0].name)
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert len(at.sidebar.selectbox(key="run_picker").options) == 5  # the other pages: runs at one sparsity
    at.switch_page("views/layer_sparsity.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page("views/solution_path.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.selectbox(key="run_picker_spp").options == [f"SPP · path · seed 0 · {tiny_run[0].name}"]
