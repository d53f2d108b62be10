"""Classification metrics from a confusion matrix C (rows: true class, columns: predicted).

accuracy = tr(C) / n
macro-F1 = mean over classes of 2·TP / (2·TP + FP + FN)   (a class never seen nor predicted: skipped)
MCC (multiclass, Gorodkin 2004) = (c·n − Σ_k p_k·t_k) / sqrt((n² − Σ p_k²)(n² − Σ t_k²)),
  c = tr(C), t_k = row sums, p_k = column sums; 0 when a denominator factor is 0.
"""

import numpy as np


def confusion(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def classification_metrics(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> dict:
    """accuracy, macro F1 and MCC of integer predictions."""
    c = confusion(np.asarray(labels), np.asarray(predictions), num_classes).astype(np.float64)
    n = c.sum()
    tp = np.diag(c)
    true, predicted = c.sum(1), c.sum(0)
    support = (true + predicted) > 0
    f1 = 2 * tp[support] / (true[support] + predicted[support])
    cov = np.sqrt((n * n - (predicted**2).sum()) * (n * n - (true**2).sum()))
    mcc = (tp.sum() * n - (predicted * true).sum()) / cov if cov > 0 else 0.0
    return {"accuracy": tp.sum() / n, "f1": float(f1.mean()), "mcc": float(mcc)}
