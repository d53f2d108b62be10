"""The kept / pruned histograms per matrix against a brute-force count, and their threshold."""

import numpy as np

from analysis.weight_histograms import EDGES, weight_histograms


def test_counts_match_a_brute_force_binning_and_the_threshold_separates_magnitude_pruning():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.05, (40, 30)).astype(np.float32)
    w[0, 0] = 0.0  # an exact zero counts in the first bin
    keep = np.abs(w) > np.quantile(np.abs(w), 0.6)  # magnitude pruning: the top 40% kept
    score = rng.normal(0, 1, w.shape)  # a signed score unrelated to the mask
    table = weight_histograms({"a": w}, {"a": keep}, {"a": score}, {"a": (3, "q")})
    magnitude = table[table["quantity"] == "magnitude"]
    assert magnitude["kept"].sum() == keep.sum() and magnitude["pruned"].sum() == (~keep).sum()
    expected, _ = np.histogram(np.log10(np.maximum(np.abs(w[keep]), 1e-6)), EDGES["magnitude"])
    kept = dict(zip(magnitude["bin_left"], magnitude["kept"], strict=True))
    assert all(kept.get(round(left, 6), 0) == n for left, n in zip(EDGES["magnitude"][:-1], expected, strict=True))
    assert magnitude["pruned"][magnitude["bin_left"] == -6.0].sum() >= 1
    cut = magnitude["threshold"].iloc[0]
    assert np.log10(np.abs(w[~keep]).max()) < cut < np.log10(np.abs(w[keep]).min())
    scored = table[table["quantity"] == "score"]
    assert np.isnan(scored["threshold"].iloc[0])  # kept and pruned overlap in an unrelated score
    assert scored["kept"].sum() + scored["pruned"].sum() == w.size and set(table["layer"]) == {3}


def test_a_pruned_run_records_them_and_histograms_adds_them_to_a_run_without(smoke_runs, tmp_path):
    import shutil

    import pandas as pd

    from analysis.store import list_runs, load_table
    from pruning.cli import main

    root = tmp_path / "runs"
    shutil.copytree(smoke_runs, root)
    run = next(r for r in list_runs(root) if r.method == "magnitude" and r.manifest["sparsity"] == 0.5)
    recorded = load_table(run, "weight_histograms")
    magnitude = recorded[recorded["quantity"] == "magnitude"]
    assert magnitude.groupby("name")["threshold"].first().notna().all()  # magnitude keeps the top |θ| per matrix
    assert magnitude["kept"].sum() == run.manifest["results"]["kept_weights"]
    (run.path / "weight_histograms.parquet").unlink()
    assert main(["histograms", "--runs", str(root)]) == 0
    pd.testing.assert_frame_equal(load_table(run, "weight_histograms"), recorded)


def test_the_sign_block_says_which_study_a_runs_folder_lacks(tmp_path):
    from analysis.signs import sign_block

    text = sign_block(tmp_path, ("compare",))
    assert "Study `compare`: no run at 50% with score histograms in this runs folder." in text
