import numpy as np
import pytest

from tinyqi.evaluate import classification_metrics
from tinyqi.train import class_weights


def test_metrics_from_a_known_confusion():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2])
    m = classification_metrics(y_true, y_pred, ["N", "S", "V", "F"])
    assert m["accuracy"] == pytest.approx(5 / 7, abs=1e-4)
    assert m["per_class"]["N"] == {"se": 0.75, "ppv": 0.75, "f1": 0.75, "support": 4}
    assert m["per_class"]["S"]["se"] == 0.5 and m["per_class"]["S"]["ppv"] == 0.5
    assert m["per_class"]["F"]["support"] == 0
    assert m["macro_f1"] == pytest.approx((0.75 + 0.5 + 1.0) / 3, abs=1e-4)  # absent F not averaged


def test_class_weights_favour_rare_classes_and_keep_mean_one():
    y = np.array([0] * 90 + [1] * 9 + [2])
    w = class_weights(y, 4, power=1.0)
    assert w[3] == 0.0 and w[2] > w[1] > w[0]
    assert np.mean([w[c] for c in y]) == pytest.approx(1.0)
