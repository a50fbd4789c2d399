"""Classification metrics from predicted labels: accuracy, macro-F1 and per-class Se / +P / F1 (AAMI style)."""

from __future__ import annotations

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows: reference class, columns: predicted class."""
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict:
    k = len(class_names)
    cm = confusion(y_true, y_pred, k)
    per_class = {}
    f1s = []
    for c, name in enumerate(class_names):
        tp, support, predicted = cm[c, c], cm[c].sum(), cm[:, c].sum()
        se = tp / support if support else 0.0
        ppv = tp / predicted if predicted else 0.0
        f1 = 2 * se * ppv / (se + ppv) if se + ppv else 0.0
        per_class[name] = {"se": round(float(se), 4), "ppv": round(float(ppv), 4), "f1": round(float(f1), 4),
                           "support": int(support)}
        if support:  # classes absent from the test set do not count towards macro-F1
            f1s.append(f1)
    return {
        "accuracy": round(float(np.trace(cm) / cm.sum()), 4),
        "macro_f1": round(float(np.mean(f1s)), 4),
        "per_class": per_class,
        "confusion": cm.tolist(),
    }
