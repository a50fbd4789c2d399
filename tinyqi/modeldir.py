"""A model directory: int8 (and float) .tflite of one Keras model, checked against both references.

Written for the trained baseline (the run root) and for every compressed variant (`variants/<name>/`), so all later
stages (codegen, verify, firmware, emulate, bench) consume the same layout (docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi import convert, cost, hostc
from tinyqi.data.dataset import Dataset
from tinyqi.evaluate import classification_metrics
from tinyqi.files import write_npz
from tinyqi.tflite_model import parse_tflite

GOLDEN_PER_CLASS = 4
INT8_EVALUATION = "tinyqi generated C, host gcc with ASan+UBSan (CSR kernels where tables exist)"


def evaluate_int8(model_dir: Path, xs: list[np.ndarray], y: np.ndarray, class_names: list[str]) -> dict:
    """int8 metrics of the model directory's generated C (tinyqi's runtime compiled by the host gcc, CSR kernels where
    tables exist: the code that runs on the device), and how its outputs compare with TFLM, the reference. LiteRT's
    reference kernels (BUILTIN_REF) are compared with TFLM too: they round FULLY_CONNECTED once in double precision
    where TFLM (and tinyqi) round twice in fixed point, so a few LSBs may differ there (docs/runtime.md)."""
    tflite = (Path(model_dir) / "model_int8.tflite").read_bytes()
    q = convert.quantize_inputs(parse_tflite(tflite), xs)
    ours = hostc.int8_outputs(model_dir, q, use_csr=True)
    tflm = convert.run_tflm(tflite, q)
    litert = convert.run_litert_ref(tflite, q)
    return {
        "metrics": classification_metrics(y, np.argmax(ours, axis=1), class_names),
        "tflm_mismatches": int(np.count_nonzero(ours != tflm)),
        "litert_ref": {
            "mismatches_vs_tflm": int(np.count_nonzero(litert != tflm)),
            "argmax_mismatches_vs_tflm": int(np.count_nonzero(np.argmax(litert, 1) != np.argmax(tflm, 1))),
            **{k: v for k, v in classification_metrics(y, np.argmax(litert, 1), class_names).items()
               if k in ("accuracy", "macro_f1")},
        },
        "outputs": int(tflm.size),
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
