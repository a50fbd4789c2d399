"""The model-ready dataset every task loader returns and every later stage consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


def largest_score(scores: np.ndarray, xs: list[np.ndarray], groups: np.ndarray | None = None) -> np.ndarray:
    """The usual decision: the class with the largest score (the first of equal ones, as numpy.argmax)."""
    return np.argmax(scores, axis=1)


@dataclass
class Dataset:
    """Float32 model inputs (one array per model input, batch axis first) and integer labels per split.

    `val` comes from the training side only (whole records/recordings held out), never from the test side.
    `info` is written to metrics.json as `dataset`: name, split, sample (bool), train/test counts, notes.
    """

    class_names: list[str]
    x_train: list[np.ndarray]
    y_train: np.ndarray
    x_val: list[np.ndarray]
    y_val: np.ndarray
    x_test: list[np.ndarray]
    y_test: np.ndarray
    info: dict = field(default_factory=dict)
    # Task-specific scoring beyond the labelled test rows (ECG: inputs of the false detections, missed beats per
    # class), so reports can score what the device does, not only the rows that have a label.
    scoring: dict | None = None
    # The int8 input scale when the device computes the model's inputs as int8 itself (zero point 0); None: the
    # converter calibrates it.
    input_scale: float | None = None
    # The device's decision: classes from the model's scores (n, classes), the inputs it was given (Keras order) and
    # which recording each row is from (rows in the device's order; None: one recording). Every prediction that is
    # scored goes through it; ECG: tinyqi.data.ecg.decide, which keeps state per recording.
    decide: Callable[[np.ndarray, list[np.ndarray], np.ndarray | None], np.ndarray] = largest_score
    val_groups: np.ndarray | None = None  # the recording of each validation row
    test_groups: np.ndarray | None = None  # the recording of each test row

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(x.shape[1:]) for x in self.x_train]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def decide_device(self, test_scores: np.ndarray, false_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Classes of the test rows and of the false detections (scoring["false_inputs"]), decided together over
        each recording's beats in the order the device met them (scoring["order"]): what the device says."""
        n = len(test_scores)
        xs = [np.concatenate([a, b]) for a, b in zip(self.x_test, self.scoring["false_inputs"])]
        groups = np.concatenate([self.scoring["record"], self.scoring["false_record"]])
        order = self.scoring["order"]
        classes = np.zeros(len(groups), np.int64)
        classes[order] = self.decide(np.concatenate([test_scores, false_scores])[order], [x[order] for x in xs],
                                     groups[order])
        return classes[:n], classes[n:]
