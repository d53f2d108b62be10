"""Each page's finding sentence, on small frames whose answer is known."""

import pandas as pd

from analysis.findings import (
    accuracy_finding,
    allocation_finding,
    difference_finding,
    path_finding,
    rgv_finding,
    score_signs,
    sentinel_finding,
    sign_finding,
    verdict_finding,
)


def _runs(rows):
    return pd.DataFrame([dict(method=m, sparsity=s, seed=seed, val_accuracy=v, status="done")
                         for m, s, seed, v in rows])


def test_accuracy_finding_reads_the_highest_sparsity_two_methods_share():
    table = _runs([("dense", 0.0, 0, 0.90), ("dense", 0.0, 1, 0.90),
                   ("magnitude", 0.5, 0, 0.86), ("magnitude", 0.5, 1, 0.88), ("random", 0.5, 0, 0.70),
                   ("magnitude", 0.9, 0, 0.60)])  # 90% has one method only: not a comparison
    assert accuracy_finding(table) == ("At 50%, magnitude keeps the most (0.870, mean of 2 seeds, 3.0 points below "
                                       "dense); random the least (0.700).")
    assert accuracy_finding(table[table["method"] != "random"]) is None
    above = _runs([("dense", 0.0, 0, 0.85), ("magnitude", 0.5, 0, 0.86), ("random", 0.5, 0, 0.70)])
    assert "0.860, mean of 1 seed, 1.0 points above dense" in accuracy_finding(above)


def _layers(sparsities):
    return pd.DataFrame([dict(name=f"m{i}", layer=layer, module=module, sparsity=s)
                         for i, ((layer, module), s) in enumerate(sparsities.items())])


def test_allocation_finding_names_an_emptied_matrix_first():
    layers = _layers({(0, "q"): 0.4, (1, "ffn_out"): 0.8, (-1, "pooler"): 1.0})
    assert allocation_finding(layers, "magnitude") == ("magnitude removed 100% of after blocks · pooler: the model's "
                                                       "output no longer depends on them.")
    assert allocation_finding(layers.iloc[:2], "SNIP") == ("SNIP pruned layer 1 · ffn out most (80%) and layer 0 · "
                                                           "query least (40%).")
    assert allocation_finding(layers.assign(sparsity=0.0), "dense") is None


def test_path_finding_reads_the_last_sparsity_within_a_point_of_dense():
    rows = [("dense", 0.0, 0.85), ("readoff", 0.1, 0.85), ("readoff", 0.3, 0.842), ("readoff", 0.5, 0.80),
            ("recovered", 0.3, 0.84), ("recovered", 0.7, 0.78)]
    metrics = pd.DataFrame([dict(step=0, sparsity=s, split=split, metric="accuracy", value=v) for split, s, v in rows])
    assert path_finding(metrics) == ("Without recovery the read-off stays within 1 point of dense (0.850) up to 30%. "
                                     "Recovered at 70%: 0.780.")


def test_rgv_finding_compares_median_whole_model_rgv():
    def frame(ratios):
        return pd.DataFrame([dict(step=t, layer=0, module="q", numerator=r, denominator=1.0, rgv=r)
                             for t, r in enumerate(ratios)])
    found = rgv_finding({"SEVENpre": frame([0.2, 0.3, 0.4]), "SNIP": frame([0.9, 1.1, 1.0])})
    assert found == "Steadiest gradients after pruning: SEVENpre (median RGV 0.30); noisiest: SNIP (1.00)."
    assert rgv_finding({"SNIP": frame([1.0])}) is None


def test_sentinel_finding_reads_the_whole_model_shares():
    sentinels = pd.DataFrame([dict(layer=0, module="q", top=10, sw=4, tsw=6, sw_kept=4, tsw_kept=3, sw_kept_snip=2,
                                   tsw_kept_snip=6)])
    assert sentinel_finding(sentinels, "SEVENpre") == ("SEVENpre keeps 100% of the sentinels (SW) and 50% of the "
                                                       "temporary ones (TSW); SNIP at the same density keeps 50% and "
                                                       "100%.")


def test_difference_finding_names_the_largest_gaps_both_ways():
    a = _layers({(0, "q"): 0.5, (0, "k"): 0.5, (1, "v"): 0.5})
    b = a.assign(sparsity=[0.7, 0.5, 0.4])
    assert difference_finding(a, b) == "B prunes layer 0 · query +20.0 points against A, and layer 1 · value -10.0."
    assert difference_finding(a, a).startswith("The two runs prune every matrix to within half a point")


def test_verdict_finding_counts():
    assert verdict_finding(["held", "not held", "held"]) == "Of 3 claims: 2 held, 1 not held."
    assert verdict_finding([]) is None


def _score_bins(rows):
    """(bin_left, bin_right, kept, pruned) rows of one matrix's score histogram, plus a magnitude row."""
    frame = pd.DataFrame([dict(name="w", layer=0, module="q", quantity="score", bin_left=lo, bin_right=hi, kept=k,
                               pruned=p, threshold=float("nan")) for lo, hi, k, p in rows])
    magnitude = frame.iloc[:1].assign(quantity="magnitude", kept=100, pruned=0)  # not a score: ignored
    return pd.concat([frame, magnitude], ignore_index=True)


def test_sign_finding_names_a_mask_that_follows_the_sign_of_its_score():
    by_sign = _score_bins([(-2.0, -1.9, 0, 30), (-0.1, 0.0, 0, 20), (0.0, 0.1, 25, 0), (1.0, 1.1, 25, 0)])
    assert score_signs(by_sign) == (1.0, 0.5)  # every pruned weight scored below 0; half of all scores did
    assert sign_finding(by_sign, "GraSP").startswith("GraSP pruned only weights whose score is negative (100.0% "
                                                     "of those it pruned; 50% of all its scores are)")
    ranked = _score_bins([(0.0, 0.1, 0, 50), (1.0, 1.1, 50, 0)])  # non-negative scores: a ranking
    assert score_signs(ranked) == (0.0, 0.0) and sign_finding(ranked, "SNIP") is None
    mixed = _score_bins([(-1.0, -0.9, 10, 40), (0.0, 0.1, 40, 10)])  # pruned on both sides of 0
    assert score_signs(mixed) == (0.8, 0.5) and sign_finding(mixed, "movement") is None
