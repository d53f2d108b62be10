"""Compare analysis against hand-checked values, and the Compare page on a real study."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.compare import accuracy_table, mask_agreement, pareto_front, score_correlation, seed_summary
from analysis.figures import accuracy_bands
from analysis.store import list_studies, study_runs
from analysis.tables import final_metrics

from .conftest import ROOT
from .test_app import _array, _charts


def test_jaccard_of_kept_sets_by_hand():
    masks = {"A": {"w": np.array([1, 1, 0, 0], bool), "b": np.array([1], bool)},
             "B": {"w": np.array([1, 0, 1, 0], bool), "b": np.array([1], bool)}}
    matrix = mask_agreement(masks)
    assert matrix.loc["A", "B"] == pytest.approx(2 / 4)  # kept {0, 1, b} vs {0, 2, b}: 2 shared of 4
    assert matrix.loc["A", "A"] == 1.0


def test_spearman_is_within_matrices_and_size_weighted():
    rng = np.random.default_rng(0)
    big, small = rng.random(400), rng.random(100)
    scores = {"A": {"big": big, "small": small},
              "same order": {"big": 10 * big + 3, "small": small**3},
              "big reversed": {"big": -big, "small": small}}
    rho = score_correlation(scores, per_tensor=1000)
    assert rho.loc["A", "same order"] == pytest.approx(1.0)
    assert rho.loc["A", "big reversed"] == pytest.approx((400 * -1 + 100 * 1) / 500)
    sample = score_correlation(scores, per_tensor=50, seed=3)
    assert sample.loc["A", "big reversed"] == pytest.approx((400 * -1 + 100 * 1) / 500)


def test_pareto_front_keeps_only_undominated_points():
    points = pd.DataFrame({"kept": [1, 2, 2, 3, 4], "acc": [0.6, 0.5, 0.7, 0.65, 0.9]})
    assert pareto_front(points, "kept", "acc")["acc"].tolist() == [0.6, 0.7, 0.9]


def _table(rows):
    return pd.DataFrame([dict(status="done", method=m, color="#123456", sparsity=s, seed=i, val_accuracy=a)
                         for m, s, i, a in rows])


def test_seed_statistics_table_and_bands():
    table = _table([("SNIP", 0.5, 0, 0.8), ("SNIP", 0.5, 1, 0.9), ("SNIP", 0.7, 0, 0.6), ("magnitude", 0.5, 0, 0.7),
                    ("dense", 0.0, 0, 0.95)])
    stats = seed_summary(table)
    snip = stats[(stats["method"] == "SNIP") & (stats["sparsity"] == 0.5)].iloc[0]
    assert snip["mean"] == pytest.approx(0.85) and snip["seeds"] == 2
    assert snip["std"] == pytest.approx(np.std([0.8, 0.9], ddof=1))
    numbers = accuracy_table(table[table["method"] != "dense"])
    assert list(numbers.index) == ["magnitude", "SNIP"]  # alphabetical, case ignored
    assert numbers.loc["SNIP", "50%"] == "0.850 ± 0.071 (2)" and numbers.loc["magnitude", "70%"] == ""
    fig = accuracy_bands(table)
    band = next(t for t in fig.data if t.fill == "toself")
    assert max(band.y) <= 1.0 and len(band.x) == 4
    assert {t.name for t in fig.data if t.name} == {"SNIP", "magnitude"}
    assert fig.layout.shapes[0].y0 == pytest.approx(0.95)


def test_a_study_lists_its_runs_with_identical_budgets(smoke_study):
    assert list_studies(smoke_study) == ["smoke"]
    runs = study_runs(smoke_study, "smoke")
    assert len(runs) == 16 and len({r.manifest["base_run"] for r in runs}) == 2  # one dense run per seed
    table = final_metrics(runs)
    assert (table.groupby("method").size() == 4).all()


def test_compare_page_on_a_study(monkeypatch, smoke_study):
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(smoke_study))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("views/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="scope").value == "study: smoke"
    charts = _charts(at)
    bands = charts[0]
    lines = {t["name"]: _array(t["y"]) for t in bands["data"] if t.get("mode") == "lines+markers"}
    assert set(lines) == {"magnitude", "SNIP", "GraSP", "PLATON"} and all(len(v) == 2 for v in lines.values())
    assert any(t.get("fill") == "toself" for t in bands["data"])  # two seeds: a band
    pareto = charts[1]
    assert "Pareto front" in {t["name"] for t in pareto["data"]}
    (allocation,) = charts[2]["data"]  # the first tab: one heatmap, a panel per method
    assert allocation["type"] == "heatmap" and {a["text"] for a in charts[2]["layout"]["annotations"]} == {
        "magnitude", "SNIP", "GraSP", "PLATON"}
    assert len(charts) == 3  # the other tabs compute nothing until chosen
    sizes = {t["name"]: _array(t["y"]) for t in _tab(at, "Pruned by size")[2]["data"]}  # share pruned per bin
    assert set(sizes) == {"magnitude", "SNIP", "GraSP", "PLATON"} and all(len(v) == 11 for v in sizes.values())
    assert sizes["magnitude"][0] > 0.9 and sizes["magnitude"][-1] < 0.1  # magnitude prunes the small ones
    jaccard, spearman = _tab(at, "Mask and score agreement")[2:4]
    assert jaccard["layout"]["title"]["text"].startswith("Jaccard") and len(jaccard["data"][0]["x"]) == 4
    assert spearman["layout"]["title"]["text"].startswith("Spearman")
    losses = _tab(at, "Training loss")[2]  # per method; PLATON, which prunes while fine-tuning, has its window shaded
    assert {t["name"] for t in losses["data"]} == {"magnitude", "SNIP", "GraSP", "PLATON"}
    assert len(losses["layout"]["shapes"]) == 1
    after = _tab(at, "Gradient noise after pruning")[2]  # RGV over the recovery steps, one line per method
    assert {t["name"] for t in after["data"]} == {"magnitude", "SNIP", "GraSP", "PLATON"}
    numbers = at.dataframe[0].value
    assert list(numbers.index) == ["GraSP", "magnitude", "PLATON", "SNIP"]
    assert list(numbers.columns) == ["50%", "80%", "area (mean over the common range)"]
    paired_grid = at.dataframe[1].value  # every method minus SNIP, seed-paired
    assert set(paired_grid.index) == {"GraSP", "magnitude", "PLATON"} and list(paired_grid.columns) == ["50%", "80%"]
    assert all(cell.split()[-1] in ("ahead", "tie", "behind") for cell in paired_grid.to_numpy().ravel())
    at.multiselect(key="compare_methods").set_value(["SNIP", "GraSP"]).run()
    assert len(_tab(at, "Mask and score agreement")[2]["data"][0]["x"]) == 2


def _tab(at: AppTest, name: str) -> list[dict]:
    """The page's charts with tab `name` chosen (tabs compute only when chosen)."""
    at.session_state["compare_tab"] = name
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return _charts(at)


def test_compare_page_with_one_method(monkeypatch, smoke_runs, tmp_path):
    """A store whose only pruned run is the README's smoke run (one method): the page draws it
    without the pairwise charts failing on a 1 x 1 matrix."""
    from analysis.store import list_runs

    for run in list_runs(smoke_runs):
        if run.method != "dense" and (run.method, run.manifest["sparsity"]) != ("magnitude", 0.5):
            continue
        shutil.copytree(run.path, tmp_path / run.path.name)
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("views/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    lines = [t for t in _charts(at)[0]["data"] if t.get("mode") == "lines+markers"]
    assert [t["name"] for t in lines] == ["magnitude"]


def test_score_correlation_of_one_method_is_one():
    rho = score_correlation({"A": {"w": np.arange(10.0)}})
    assert rho.shape == (1, 1) and rho.loc["A", "A"] == 1.0


def test_pruned_by_magnitude_bins_each_matrix_by_its_own_percentiles():
    """Two matrices of different scales, each pruned below its own median: the low five bins are
    pruned, the rest kept; a mask that prunes the largest 1% shows in the last bin only."""
    from analysis.compare import pruned_by_magnitude

    rng = np.random.default_rng(0)
    dense = {"a": rng.normal(size=(40, 50)), "b": 100 * rng.normal(size=(20, 50))}
    below_median = {n: np.abs(w) >= np.median(np.abs(w)) for n, w in dense.items()}
    profile = pruned_by_magnitude(dense, below_median)
    assert profile["pruned_share"].tolist() == [1.0] * 5 + [0.0] * 6
    top = {n: np.abs(w) < np.quantile(np.abs(w), 0.99) for n, w in dense.items()}
    assert pruned_by_magnitude(dense, top)["pruned_share"].tolist() == [0.0] * 10 + [1.0]


def test_runs_pooled_as_seeds_name_every_setting_they_differ_in():
    from pathlib import Path

    from analysis.store import Run
    from analysis.tables import pooled_settings

    def run(i, method, seed, sparsity, steps, status="done"):
        config = {"seed": seed, "prune": {"sparsity": sparsity, "method": method.lower()},
                  "finetune": {"steps": steps, "lr": 1e-4, "eval_every": seed}, "probe": {"batches": seed}}
        return Run(f"{i:012x}", Path("."), {"status": status, "method_label": method, "config": config})

    runs = [run(1, "SNIP", 0, 0.5, 40), run(2, "SNIP", 1, 0.7, 40), run(3, "SNIP", 0, 0.5, 400),
            run(4, "random", 0, 0.5, 40), run(5, "random", 1, 0.9, 40), run(6, "random", 2, 0.5, 7, "failed")]
    assert pooled_settings(runs) == {"SNIP": {"finetune.steps": ["40", "400"]}}
    assert pooled_settings(runs[:2] + runs[3:]) == {}


def test_the_runs_page_warns_when_a_method_pools_two_set_ups(monkeypatch, smoke_study, tmp_path):
    shutil.copytree(smoke_study, tmp_path / "runs")
    snip = next(r for r in study_runs(tmp_path / "runs", "smoke") if r.method == "SNIP")
    manifest = json.loads((snip.path / "manifest.json").read_text())
    manifest["config"]["finetune"]["steps"] += 1  # as if it came from another study's budget
    (snip.path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning if "pooled here as seeds" in w.value]
    assert "**SNIP**: `finetune.steps`" in warning and "magnitude" not in warning
