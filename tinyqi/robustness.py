"""How a trained ECG run holds up when the device's fiducial point is off: every beat's fiducial moved by a fixed
number of samples before the chain describes it, the run's int8 model (generated C) scored on the test split.

The model is not retrained or re-selected: this only looks at the test split with the run's final model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi import modeldir
from tinyqi.data.ecg import load_ecg_dataset, load_records
from tinyqi.errors import TinyqiError
from tinyqi.evaluate import classification_metrics
from tinyqi.files import read_json
from tinyqi.manifest import check_model_dir
from tinyqi.signal import ecg as chain

DEFAULT_SHIFTS_360HZ = (-6, -4, -2, 0, 2, 4, 6)


def fiducial_shifts(run_dir: Path, shifts_360hz=DEFAULT_SHIFTS_360HZ, data_dir=None) -> dict:
    """int8 figures per fiducial shift (in 360 Hz samples: even numbers, the chain runs at 180 Hz)."""
    run_dir = Path(run_dir)
    check_model_dir(run_dir, stage="train")  # the model, test set and metrics of one training (tinyqi.manifest)
    info = read_json(run_dir / "metrics.json", "train the run again")["dataset"]
    if info.get("name") != "mitdb":
        raise TinyqiError(f"{run_dir}: not an ECG run (dataset {info.get('name')}); fiducial shifts apply to ECG")
    if any(s % chain.DECIMATION for s in shifts_360hz):
        raise TinyqiError(f"--shifts {','.join(map(str, shifts_360hz))}: use even numbers of 360 Hz samples (the "
                          "chain's fiducial is a 180 Hz sample)")
    rows = {}
    records = load_records(data_dir, sample=info["sample"])  # read once, described once per shift
    for s in shifts_360hz:
        ds = load_ecg_dataset(data_dir, records=records, sample=info["sample"], split=info["split"],
                              beats=info.get("beats", "detected"), shift=s // chain.DECIMATION)
        pred = modeldir.int8_predictions(run_dir, ds.x_test)
        m = classification_metrics(ds.y_test, pred, ds.class_names)
        device = modeldir.device_metrics(run_dir, ds, pred)
        rows[str(s)] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                        "device_macro_f1": device["macro_f1"], "device_macro_f1_nsv": device["macro_f1_nsv"],
                        **{f"{c}_{k}": device["per_class"][c][k] for c in ("N", "S", "V") for k in ("se", "ppv")}}
    return {"shift_unit": "samples at 360 Hz (every fiducial moved by this much before its beat is described)",
            "sample": info["sample"], "beats": info.get("beats", "detected"), "shifts": rows}
