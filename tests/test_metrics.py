"""Accuracy, macro F1 and MCC against hand-computed values."""

import numpy as np
import pytest

from pruning.metrics import classification_metrics


def test_binary_hand_checked():
    # TP=3 FN=1 FP=2 TN=4 (positive class 1)
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    preds = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
    m = classification_metrics(labels, preds, 2)
    assert m["accuracy"] == pytest.approx(0.7)
    f1_pos = 2 * 3 / (2 * 3 + 2 + 1)
    f1_neg = 2 * 4 / (2 * 4 + 1 + 2)
    assert m["f1"] == pytest.approx((f1_pos + f1_neg) / 2)
    mcc = (3 * 4 - 2 * 1) / np.sqrt((3 + 2) * (3 + 1) * (4 + 2) * (4 + 1))
    assert m["mcc"] == pytest.approx(mcc)


def test_perfect_constant_and_multiclass():
    y = np.array([0, 1, 2, 2])
    assert classification_metrics(y, y, 3) == pytest.approx({"accuracy": 1.0, "f1": 1.0, "mcc": 1.0})
    constant = classification_metrics(np.array([0, 1, 1]), np.array([1, 1, 1]), 2)
    assert constant["mcc"] == 0.0  # undefined -> 0
    swapped = classification_metrics(np.array([0, 1]), np.array([1, 0]), 2)
    assert swapped["mcc"] == pytest.approx(-1.0)
