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


def device_scoring(y: np.ndarray, pred: np.ndarray, false_pred: np.ndarray, missed: np.ndarray,
                   class_names: list[str]) -> dict:
    """What a device that finds beats itself achieves (EC57 beat-by-beat): a reference beat the chain missed (or
    could not describe) is a false negative of its class, a false detection a false positive of whatever class
    the model gave it. `y`/`pred`: the matched beats; `false_pred`: the classes given to false detections."""
    k = len(class_names)
    cm = confusion(y, pred, k)
    per_class, f1s = {}, []
    for c, name in enumerate(class_names):
        tp = int(cm[c, c])
        reference = int(cm[c].sum() + missed[c])
        predicted = int(cm[:, c].sum() + np.count_nonzero(false_pred == c))
        se = tp / reference if reference else 0.0
        ppv = tp / predicted if predicted else 0.0
        f1 = 2 * se * ppv / (se + ppv) if se + ppv else 0.0
        per_class[name] = {"se": round(se, 4), "ppv": round(ppv, 4), "f1": round(f1, 4), "reference": reference,
                           "predicted": predicted, "missed": int(missed[c])}
        if reference:
            f1s.append(f1)
    nsv = [per_class[c]["f1"] for c in ("N", "S", "V") if c in per_class]
    return {"macro_f1": round(float(np.mean(f1s)), 4), "macro_f1_nsv": round(float(np.mean(nsv)), 4) if nsv else None,
            "per_class": per_class, "false_detections": int(len(false_pred)), "missed": int(np.sum(missed))}


def per_record(y: np.ndarray, pred: np.ndarray, records: np.ndarray, class_names: list[str],
               classes=("S", "V", "F")) -> dict:
    """Per record: reference beats, hits and predictions of the given classes (a few records hold most S and F
    beats of DS2: the totals hide that)."""
    out = {}
    for r in sorted(set(records.tolist())):
        rows = records == r
        out[r] = {c: {"reference": int(np.count_nonzero(y[rows] == i)),
                      "hit": int(np.count_nonzero((y[rows] == i) & (pred[rows] == i))),
                      "predicted": int(np.count_nonzero(pred[rows] == i))}
                  for c in classes for i in [class_names.index(c)]}
    return out
