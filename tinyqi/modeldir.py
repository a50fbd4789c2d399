"""A model directory: int8 (and float) .tflite of one Keras model, checked against both references.

Written for the trained baseline (the run root) and for every compressed variant (`variants/<name>/`), so all later
stages (codegen, verify, firmware, emulate, bench) consume the same layout (docs/architecture.md). Its manifest.json
and `check_model_dir`, the check every consumer runs first, live in tinyqi.manifest (re-exported here).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tinyqi import convert, cost, hostc
from tinyqi.codegen import GOLDEN_FILE, MODEL_FILES
from tinyqi.codegen.golden import GOLDEN_TODO, load_golden
from tinyqi.data.dataset import Dataset
from tinyqi.evaluate import classification_metrics, device_scoring, per_record
from tinyqi.errors import TinyqiError
from tinyqi.files import read_npz, write_npz
from tinyqi.manifest import check_model_dir, write_manifest  # noqa: F401  (re-exported)
from tinyqi.tflite_model import parse_tflite

GOLDEN_PER_CLASS = 4
TESTSET_TODO = "re-run `tinyqi train` to write it again"
INT8_EVALUATION = "tinyqi generated C, host gcc with ASan+UBSan (CSR kernels where tables exist)"


def evaluate_int8(model_dir: Path, ds: Dataset) -> dict:
    """int8 metrics on the test split of the model directory's generated C (tinyqi's runtime compiled by the host
    gcc, CSR kernels where tables exist: the code that runs on the device), classes by the task's decision
    (Dataset.decide), and how its outputs compare with TFLM, the reference. LiteRT's reference kernels (BUILTIN_REF)
    are compared with TFLM too: they round FULLY_CONNECTED once in double precision where TFLM (and tinyqi) round
    twice in fixed point, so a few LSBs may differ there (docs/runtime.md)."""
    tflite = (Path(model_dir) / "model_int8.tflite").read_bytes()
    q = convert.quantize_inputs(parse_tflite(tflite), ds.x_test)
    ours = hostc.int8_outputs(model_dir, q, use_csr=True)
    tflm = convert.run_tflm(tflite, q)
    litert = convert.run_litert_ref(tflite, q)
    predictions, false_predictions = test_predictions(model_dir, ds, ours)
    litert_predictions = ds.decide(litert, ds.x_test, ds.test_groups)
    return {
        "predictions": predictions,
        "false_predictions": false_predictions,
        "metrics": classification_metrics(ds.y_test, predictions, ds.class_names),
        "tflm_mismatches": int(np.count_nonzero(ours != tflm)),
        "litert_ref": {
            "mismatches_vs_tflm": int(np.count_nonzero(litert != tflm)),
            "argmax_mismatches_vs_tflm": int(np.count_nonzero(
                litert_predictions != ds.decide(tflm, ds.x_test, ds.test_groups))),
            **{k: v for k, v in classification_metrics(ds.y_test, litert_predictions, ds.class_names).items()
               if k in ("accuracy", "macro_f1")},
        },
        "outputs": int(tflm.size),
    }


def int8_scores(model_dir: Path, xs: list[np.ndarray]) -> np.ndarray:
    """The int8 outputs the model directory's generated C gives float inputs `xs` (Keras order)."""
    if len(xs[0]) == 0:
        return np.zeros((0, 1), np.int8)  # no rows: every decision gives no classes
    tflite = (Path(model_dir) / "model_int8.tflite").read_bytes()
    return hostc.int8_outputs(model_dir, convert.quantize_inputs(parse_tflite(tflite), xs), use_csr=True)


def test_predictions(model_dir: Path, ds: Dataset, test_scores: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """The generated C's classes of the test rows, and of the false detections when the dataset carries the device
    scoring: then both are decided together, in the order the device met them (Dataset.decide_device)."""
    if test_scores is None:
        test_scores = int8_scores(model_dir, ds.x_test)
    if ds.scoring is None:
        return ds.decide(test_scores, ds.x_test, ds.test_groups), None
    false_scores = int8_scores(model_dir, ds.scoring["false_inputs"])
    if len(false_scores) == 0:
        false_scores = np.zeros((0, test_scores.shape[1]), test_scores.dtype)
    return ds.decide_device(test_scores, false_scores)


def validation_metrics(model_dir: Path, ds: Dataset) -> dict:
    """int8 metrics (generated C) on the training side's validation records: what model selection may look at."""
    predictions = ds.decide(int8_scores(model_dir, ds.x_val), ds.x_val, ds.val_groups)
    return classification_metrics(ds.y_val, predictions, ds.class_names)


def device_metrics(ds: Dataset, predictions: np.ndarray, false_predictions: np.ndarray | None) -> dict | None:
    """The ECG device scoring (evaluate.device_scoring) of test_predictions(), when the dataset carries it."""
    if ds.scoring is None:
        return None
    scored = device_scoring(ds.y_test, predictions, false_predictions, ds.scoring["missed"], ds.class_names)
    scored["per_record"] = per_record(ds.y_test, predictions, ds.scoring["record"], ds.class_names)
    return scored


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


def golden_vectors(model_dir: Path, float_model: bool = False) -> tuple[dict[str, np.ndarray] | None, str]:
    """The golden vectors a harness embeds, and the name to report their problems under: golden.npz (None when
    there is none) or, for the float32 build, the same test rows as float32 inputs with TFLM's float32 outputs."""
    path = Path(model_dir) / GOLDEN_FILE
    if not path.is_file():
        return None, str(path)
    golden = load_golden(path)
    return (_float_golden(path.parent, golden) if float_model else golden), str(path)


def _float_golden(model_dir: Path, golden: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    path, float_tflite = model_dir / GOLDEN_FILE, model_dir / MODEL_FILES["f32"]
    run_dir = next((d for d in (model_dir, model_dir.parent.parent) if (d / "testset.npz").is_file()), None)
    if run_dir is None:
        raise TinyqiError(f"{model_dir}: float golden vectors need testset.npz of the run; re-run `tinyqi train`")
    xs, _, _ = load_testset(run_dir)
    tflite = float_tflite.read_bytes()
    rows = np.asarray(golden.get("index", []))
    if rows.ndim != 1 or not rows.size or not np.issubdtype(rows.dtype, np.integer) or not (
            0 <= rows.min() and rows.max() < len(xs[0])):
        raise TinyqiError(f"{path}: 'index' must list rows of {run_dir / 'testset.npz'} ({len(xs[0])} rows); "
                          f"{GOLDEN_TODO}")
    inputs = [x.astype(np.float32) for x in convert.model_inputs(parse_tflite(tflite, float_tflite),
                                                                    [x[rows] for x in xs])]
    result = {f"input{k}": x for k, x in enumerate(inputs)}
    result.update(output=convert.run_tflm(tflite, inputs), index=rows)
    if "label" in golden:
        result["label"] = golden["label"]
    return result


def write_testset(run_dir: Path, ds: Dataset) -> Path:
    arrays = {f"x{k}": x for k, x in enumerate(ds.x_test)}
    arrays.update(y=ds.y_test, class_names=np.array(ds.class_names))
    path = Path(run_dir) / "testset.npz"
    write_npz(path, arrays)
    return path


def load_testset(run_dir: Path) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """testset.npz (docs/architecture.md), checked: every consumer quantises these inputs and trusts the labels."""
    path = Path(run_dir) / "testset.npz"
    z = read_npz(path, TESTSET_TODO)
    count = sum(1 for name in z if re.fullmatch(r"x\d+", name))
    missing = [name for name in [*(f"x{k}" for k in range(count)), "y", "class_names"] if name not in z] or (
        ["x0"] if count == 0 else [])
    if missing:
        raise TinyqiError(f"{path}: no array '{missing[0]}'; {TESTSET_TODO}")
    xs, y, names = [z[f"x{k}"] for k in range(count)], z["y"], z["class_names"]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or names.ndim != 1 or names.dtype.kind != "U":
        raise TinyqiError(f"{path}: 'y' is {y.dtype}{list(y.shape)} and 'class_names' {names.dtype}"
                          f"{list(names.shape)}, expected integer labels and a list of names; {TESTSET_TODO}")
    if y.size == 0:
        raise TinyqiError(f"{path}: holds no samples; {TESTSET_TODO}")
    if not (0 <= y.min() and y.max() < len(names)):
        raise TinyqiError(f"{path}: labels run from {y.min()} to {y.max()} for {len(names)} classes; {TESTSET_TODO}")
    for k, x in enumerate(xs):
        _check_inputs(path, f"x{k}", x, len(y))
    return xs, y, [str(c) for c in names]


def _check_inputs(path: Path, name: str, x: np.ndarray, rows: int) -> None:
    """One input array: float, one row per label, every value finite (quantising NaN would give int8 0 silently)."""
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.floating):
        raise TinyqiError(f"{path}: '{name}' is {x.dtype}{list(x.shape)}, expected float rows of model inputs; "
                          f"{TESTSET_TODO}")
    if len(x) != rows:
        raise TinyqiError(f"{path}: '{name}' has {len(x)} rows but there are {rows} labels; {TESTSET_TODO}")
    bad = ~np.isfinite(x)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise TinyqiError(f"{path}: '{name}' has {int(bad.sum())} NaN/Inf values (first in row {row}); "
                          f"{TESTSET_TODO}")


def model_summary(tflite: bytes) -> dict:
    model = parse_tflite(tflite)
    return {"tflite_bytes": len(tflite), "params": cost.weight_params(model), "macs": cost.total_macs(model),
            "effective_macs": cost.total_macs(model, effective=True), "ops": model.op_names()}
