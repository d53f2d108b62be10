"""Seed-paired differences, bootstrap intervals, verdicts and curve areas against hand values."""

import numpy as np
import pandas as pd
import pytest

from analysis.paired import against, bootstrap_interval, curve_area, paired, verdict


def _table(rows):
    return pd.DataFrame([dict(status="done", method=m, sparsity=s, seed=i, val_accuracy=a) for m, s, i, a in rows])


TABLE = _table([
    ("A", 0.5, 0, 0.80), ("A", 0.5, 1, 0.82), ("A", 0.5, 2, 0.81),
    ("B", 0.5, 0, 0.78), ("B", 0.5, 1, 0.79), ("B", 0.5, 2, 0.80),
    ("A", 0.7, 0, 0.70), ("A", 0.7, 1, 0.60), ("A", 0.7, 2, 0.66),
    ("B", 0.7, 0, 0.65), ("B", 0.7, 1, 0.68), ("B", 0.7, 2, 0.64),
    ("B", 0.9, 0, 0.50),
])


def test_differences_are_paired_by_seed_and_the_verdict_reads_the_interval():
    result = paired(TABLE, "A", "B").set_index("sparsity")
    assert result.loc[0.5, "differences"] == pytest.approx([0.02, 0.03, 0.01])
    assert result.loc[0.5, "mean"] == pytest.approx(0.02) and result.loc[0.5, "verdict"] == "ahead"
    assert result.loc[0.7, "differences"] == pytest.approx([0.05, -0.08, 0.02])
    assert result.loc[0.7, "verdict"] == "tie"  # its mean is below 0, but the seeds disagree
    assert 0.9 not in result.index  # A has no run at 90%: nothing to pair
    assert paired(TABLE, "B", "A").set_index("sparsity").loc[0.5, "verdict"] == "behind"


def test_bootstrap_interval_lies_within_the_extremes_and_is_reproducible():
    d = np.array([0.05, -0.08, 0.02])
    low, high = bootstrap_interval(d)
    assert d.min() - 1e-12 <= low < high <= d.max() + 1e-12
    assert (low, high) == bootstrap_interval(d)
    assert bootstrap_interval(np.array([0.01, 0.01, 0.01])) == pytest.approx((0.01, 0.01))
    assert [verdict(0.1, 0.2), verdict(-0.1, 0.2), verdict(-0.2, -0.1)] == ["ahead", "tie", "behind"]


def test_against_a_reference_and_curve_areas():
    rows = against(TABLE, "B")
    assert set(rows["method"]) == {"A"} and len(rows) == 2
    area = curve_area(TABLE)  # common range 50-70%: the trapezoid of the means over 0.2, divided by 0.2
    assert area["A"] == pytest.approx((0.81 + np.mean([0.70, 0.60, 0.66])) / 2)
    assert area["B"] == pytest.approx((0.79 + np.mean([0.65, 0.68, 0.64])) / 2)


def test_one_seed_gives_no_verdict():
    one = _table([("A", 0.5, 0, 0.9), ("B", 0.5, 0, 0.5)])
    assert paired(one, "A", "B")["verdict"].tolist() == ["n/a"]  # a 0.4 gap, but no interval from one seed


def test_a_lower_is_better_metric_turns_the_differences_but_keeps_n_a():
    from analysis.report import oriented

    table = _table([("A", 0.5, 0, 1.2), ("A", 0.5, 1, 1.3), ("B", 0.5, 0, 1.4), ("B", 0.5, 1, 1.6),
                    ("A", 0.7, 0, 1.0), ("B", 0.7, 0, 1.1)])
    turned = oriented(paired(table, "A", "B"), higher_is_better=False).set_index("sparsity")
    assert turned.loc[0.5, "verdict"] == "ahead" and turned.loc[0.5, "mean"] == pytest.approx(0.25)
    assert turned.loc[0.5, "low"] <= turned.loc[0.5, "mean"] <= turned.loc[0.5, "high"]
    assert turned.loc[0.7, "verdict"] == "n/a"  # one seed: still no verdict
