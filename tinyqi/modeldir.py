"""A model directory: int8 (and float) .tflite of one Keras model, checked against both references.

Written for the trained baseline (the run root) and for every compressed variant (`variants/<name>/`), so all later
stages (codegen, verify, firmware, emulate, bench) consume the same layout (docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi import convert, cost
from tinyqi.data.dataset import Dataset
from tinyqi.evaluate import classification_metrics
from tinyqi.files import write_npz
from tinyqi.tflite_model import parse_tflite

GOLDEN_PER_CLASS = 4


def evaluate_int8(tflite: bytes, xs: list[np.ndarray], y: np.ndarray, class_names: list[str]) -> dict:
    """int8 metrics from LiteRT's reference kernels, and how many outputs TFLM computes differently."""
    model = parse_tflite(tflite)
    q = convert.quantize_inputs(model, xs)
    ref = convert.run_litert_ref(tflite, q)
    tflm = convert.run_tflm(tflite, q)
    metrics = classification_metrics(y, np.argmax(ref, axis=1), class_names)
    tflm_metrics = classification_metrics(y, np.argmax(tflm, axis=1), class_names)
    return {
        "metrics": metrics,
        "tflm_metrics": tflm_metrics,
        "tflm_mismatches": int(np.count_nonzero(ref != tflm)),
        "tflm_argmax_mismatches": int(np.count_nonzero(np.argmax(ref, 1) != np.argmax(tflm, 1))),
        "outputs": int(ref.size),
    }


def golden_indices(y: np.ndarray, n_classes: int, per_class: int = GOLDEN_PER_CLASS) -> np.ndarray:
    """The first `per_class` test rows of every class present, in test order: deterministic and covering all."""
    picks = [np.flatnonzero(y == c)[:per_class] for c in range(n_classes)]
    return np.sort(np.concatenate(picks))


def write_golden(model_dir: Path, tflite: bytes, xs: list[np.ndarray], y: np.ndarray, n_classes: int) -> Path:
    idx = golden_indices(y, n_classes)
    model = parse_tflite(tflite)
    q = convert.quantize_inputs(model, [x[idx] for x in xs])
    arrays = {f"input{k}": v for k, v in enumerate(q)}
    arrays.update(output=convert.run_tflm(tflite, q), label=y[idx], index=idx)
    path = Path(model_dir) / "golden.npz"
    write_npz(path, arrays)
    return path


def write_testset(run_dir: Path, ds: Dataset) -> Path:
    arrays = {f"x{k}": x for k, x in enumerate(ds.x_test)}
    arrays.update(y=ds.y_test, class_names=np.array(ds.class_names))
    path = Path(run_dir) / "testset.npz"
    write_npz(path, arrays)
    return path


def load_testset(run_dir: Path) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    z = np.load(Path(run_dir) / "testset.npz")
    xs = [z[f"x{k}"] for k in range(sum(1 for f in z.files if f.startswith("x")))]
    return xs, z["y"], [str(c) for c in z["class_names"]]


def model_summary(tflite: bytes) -> dict:
    model = parse_tflite(tflite)
    return {"tflite_bytes": len(tflite), "params": cost.weight_params(model), "macs": cost.total_macs(model),
            "effective_macs": cost.total_macs(model, effective=True), "ops": model.op_names()}
