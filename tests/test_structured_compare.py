"""The Structured comparison: its tables from real smoke runs (SPP, Taylor, the lasso at one
target), the costs of K sub-networks by hand, and the page through AppTest."""

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.solution_path import SolutionPath
from analysis.store import list_runs
from analysis.structured_compare import (
    accuracy_rows,
    kept_shares,
    latency_rows,
    render_structured_markdown,
    subnetwork_costs,
)

from .conftest import ROOT


@pytest.fixture(scope="module")
def runs(structured_smoke_runs):
    return [r for r in list_runs(structured_smoke_runs) if r.is_path]


def test_accuracy_rows_take_a_per_target_run_at_its_target_only(runs):
    rows = accuracy_rows(runs)
    lasso = rows[rows["method"] == "lasso (structured)"]
    assert set(lasso["sparsity"]) == {0.3} and set(lasso["phase"]) == {"no recovery", "recovered"}
    taylor = rows[rows["method"] == "Taylor (structured)"]
    assert set(taylor[taylor["phase"] == "no recovery"]["sparsity"]) == {0.3, 0.6}
    dense = rows[rows["method"] == "dense"]
    assert len(dense) == 2 and dense["val_accuracy"].nunique() == 1  # one dense model, both panels
    assert rows["val_accuracy"].between(0, 1).all()


def test_latency_rows_pair_recovered_accuracy_with_each_runtime(runs):
    rows = latency_rows(runs)
    taylor = rows[rows["method"] == "Taylor (structured)"]
    assert sorted(taylor["sparsity"]) == [0.3, 0.6]
    assert taylor[["accuracy", "compressed ms", "compressed onnxruntime ms", "dense ms"]].notna().all().all()


def test_kept_shares_follow_the_read_off(runs):
    spp = next(r for r in runs if r.method == "SPP")
    path = SolutionPath.load(spp.path / "path.safetensors")
    shares = kept_shares(path, 0.5)
    masks = path.block_masks(path.masks_at(0.5))
    assert list(shares.columns) == ["QK", "VO", "FFN"] and list(shares.index) == ["layer 0", "layer 1"]
    np.testing.assert_allclose(shares["FFN"], [m.mean() for m in masks["ffn"]])


def test_subnetwork_costs_by_hand(runs):
    costs = subnetwork_costs(runs, counts=(1, 4)).set_index(["method", "subnetworks"])["seconds"]
    taylor = next(r for r in runs if r.method == "Taylor (structured)").manifest
    lasso = next(r for r in runs if r.method == "lasso (structured)").manifest
    per_readoff = taylor["timings"]["read-off"] / len(taylor["config"]["spp"]["grid"])
    assert costs["Taylor (structured)", 4] == pytest.approx(taylor["timings"]["search"] + 4 * per_readoff)
    assert costs["lasso (structured)", 4] == pytest.approx(4 * lasso["timings"]["search"])
    assert subnetwork_costs([]).empty and isinstance(subnetwork_costs([]), pd.DataFrame)


@pytest.mark.slow
def test_structured_page_on_real_runs(monkeypatch, structured_smoke_runs):
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(structured_smoke_runs))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("views/structured.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert set(at.multiselect(key="structured_methods").value) == {"SPP", "Taylor (structured)", "lasso (structured)"}
    charts = at.get("plotly_chart")
    assert len(charts) == 6
    at.select_slider(key="structured_sparsity").set_value(0.3).run()
    assert not at.exception
    at.multiselect(key="structured_methods").set_value(["SPP"]).run()
    assert not at.exception, [e.value for e in at.exception]


def test_structured_page_without_runs_says_how_to_make_them(monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNESCOPE_RUNS", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/structured.py").run()
    assert not at.exception
    assert [c.value for c in at.code] == ["python -m pruning sweep configs/structured.toml"]


def test_the_readme_block_tabulates_every_method_and_phase(runs):
    text = render_structured_markdown(runs, "python -m pruning sweep configs/structured.toml")
    assert "| Taylor (structured) | no recovery |" in text and "| lasso (structured) | recovered |" in text
    assert "Each method minus Taylor (no recovery)" in text and "| SPP |" in text
    assert "| PyTorch |" in text and "| onnxruntime |" in text and "K = 4" in text
    assert "| SPP | " in text.split("first 5% an order removes")[1]  # the SPP path recorded its gradients
    assert text.endswith("Recompute: `python -m pruning sweep configs/structured.toml`")
    assert render_structured_markdown([], "").startswith("Not computed yet")
