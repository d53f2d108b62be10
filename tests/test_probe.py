"""The noise probe as recorded by real runs: sizes, consistency of the SW/TSW counts, SNIP's mask."""

from dataclasses import replace

import numpy as np
import pytest

from analysis.store import list_runs, load_table
from pruning.config import load_config
from pruning.runner import execute

from .conftest import SMOKE


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    root = tmp_path_factory.mktemp("probed")
    base = load_config(SMOKE)
    runs = {}
    for method in ("snip", "seven"):
        config = replace(base, prune=replace(base.prune, method=method, sparsity=0.7, iterations=20))
        runs[method] = next(r for r in list_runs(execute(config, root).parent) if r.run_id == config.run_id)
    return runs


def test_sentinel_counts_are_consistent(probed):
    for run in probed.values():
        table = load_table(run, "sentinels")
        assert (table["sw"] + table["tsw"] == table["top"]).all()
        assert (table["sw_kept"] <= table["sw"]).all() and (table["tsw_kept_snip"] <= table["tsw"]).all()
        assert table["top"].sum() == round(0.3 * table["weights"].sum())  # saliency top-k at the run's density


def test_snip_reference_mask_is_the_snip_runs_own_mask(probed):
    table = load_table(probed["snip"], "sentinels")
    assert (table["sw_kept"] == table["sw_kept_snip"]).all() and (table["tsw_kept"] == table["tsw_kept_snip"]).all()
    sample = load_table(probed["snip"], "sample")
    assert (sample["kept"] == sample["kept_snip"]).all()


def test_rgv_is_split_into_kept_and_pruned_and_the_sample_is_seeded(probed):
    rgv = load_table(probed["seven"], "rgv")
    assert set(rgv["subset"]) == {"all", "kept", "pruned"}
    assert rgv["step"].max() == 15  # 16 probe batches -> 15 consecutive pairs
    assert np.isfinite(rgv["rgv"]).all() and (rgv["rgv"] > 0).all()
    sample = load_table(probed["seven"], "sample")
    assert len(sample) == 17_408  # the tiny model has fewer weights than the sample size
    assert 0.25 < sample["kept"].mean() < 0.35
    histograms = load_table(probed["seven"], "histograms")
    assert histograms["count"].sum() > 0


def test_a_probe_from_the_cached_dense_gradients_equals_one_computed_afresh(probed, tmp_path):
    import pandas as pd

    from pruning import runner

    assert runner._DENSE_PROBE  # the second run of the fixture read the first one's gradients
    runner._DENSE_PROBE.clear()
    base = load_config(SMOKE)
    config = replace(base, prune=replace(base.prune, method="seven", sparsity=0.7, iterations=20))
    fresh = next(r for r in list_runs(execute(config, tmp_path).parent) if r.run_id == config.run_id)
    for name in ("rgv", "sentinels", "sample", "noise_scale"):
        pd.testing.assert_frame_equal(load_table(fresh, name), load_table(probed["seven"], name))
