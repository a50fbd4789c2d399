"""`tinyqi train <task>`: data -> model -> train -> int8 convert -> verify (LiteRT ref + TFLM) -> run directory.

The same code runs every task; a task only contributes its loader and model builder (tasks.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyqi import convert, modeldir, report
from tinyqi.data import store
from tinyqi.errors import TinyqiError
from tinyqi.evaluate import classification_metrics
from tinyqi.files import check_replaceable, staged_dir, write_bytes, write_json
from tinyqi.manifest import is_model_dir_output, write_manifest
from tinyqi.models.ensemble import check_members
from tinyqi.tasks import Task, get_task
from tinyqi.train import predict_labels, train_members


@dataclass
class TrainOptions:
    task: str
    out: Path
    seed: int = 0
    quick: bool = False
    epochs: int | None = None
    data_dir: str | None = None
    sample: bool | None = None  # None: full data when present, else the bundled sample (said loudly)
    split: str | None = None
    labels: str | None = None  # the task's label set (vibration: 10 or 4 classes); None: its default
    beats: str | None = None  # ECG: beats the device detects (default) or, for comparison, the annotated ones
    model_options: dict | None = None  # keyword arguments of the task's model builder (e.g. filters, hidden)
    weight_power: float = 0.5  # class weighting (train.class_weights)
    learning_rate: float = 3e-3
    members: int = 1  # models averaged (tinyqi.models.ensemble); 1: a single model


def resolve_sample(task: Task, opts: TrainOptions) -> bool:
    """Full data when it is there; the bundled sample only when asked for, or when nothing else exists and the
    user named no location (a named location that is empty is an error, never a silent sample)."""
    if opts.sample is not None:
        return opts.sample
    if store.dataset_present(task.dataset, opts.data_dir):
        return False
    if store.explicit_root(opts.data_dir):
        return False  # the loader then says exactly what is missing where
    return True


def train_task(opts: TrainOptions, ui) -> dict:
    task = get_task(opts.task)
    load_options = task.load_options(opts.labels, opts.beats)  # a wrong option: one line before anything else
    check_replaceable(opts.out, is_model_dir_output, "run directory")  # a bad --out too
    sample = resolve_sample(task, opts)
    if sample:
        ui.warn(f"NO FULL {task.dataset.upper()} DATA FOUND: training on the bundled sample ({task.sample_kind}). "
                f"Figures are a smoke test only; run `tinyqi data fetch {task.dataset}` for real results.")
    split = opts.split or task.default_split
    if opts.epochs is not None and opts.epochs < 1:  # the CLI refuses it too; library callers get the same line
        raise TinyqiError(f"epochs {opts.epochs}: must be at least 1; give the number of training epochs, e.g. 30")
    epochs = opts.epochs or (task.quick_epochs if opts.quick else task.epochs)
    check_members(opts.members)
    # The whole run is written aside and swapped in at the end (tinyqi.files.staged_dir): a reader, and an
    # interrupted run, see the previous complete run directory or the new one, never a mix. The previous run's
    # variants/, firmware builds, verify.json, ... belong to its model and go with it.
    with staged_dir(opts.out, is_model_dir_output, "run directory") as out:
        with ui.stage("loading data"):
            ds = task.load(opts.data_dir, sample=sample, split=split, **load_options)
        members = f" x {opts.members} models" if opts.members > 1 else ""
        with ui.stage(f"training {epochs} epochs{members}", total=epochs * opts.members) as advance:
            model, training = train_members(
                lambda: task.build_model(ds.input_shapes, ds.n_classes, **(opts.model_options or {})), ds,
                members=opts.members, seed=opts.seed, epochs=epochs, batch_size=task.batch_size,
                weight_power=opts.weight_power, learning_rate=opts.learning_rate, weight_ema=task.weight_ema,
                select_epoch=task.select_epoch, on_epoch=lambda e, logs, f1: advance(_epoch_line(e, logs, f1)))
            model.save(out / "model.keras")
        with ui.stage("converting to int8 and float32 TFLite"):
            int8 = convert.to_int8_tflite(model, ds.x_train, input_scale=ds.input_scale)
            write_bytes(out / "model_int8.tflite", int8)
            write_bytes(out / "model_float.tflite", convert.to_float_tflite(model))
        with ui.stage(f"evaluating float and int8 (generated C vs TFLM and LiteRT) on {len(ds.y_test)} test samples"):
            float_predictions = predict_labels(model, ds.x_test, ds.decide, ds.test_groups)
            float_metrics = classification_metrics(ds.y_test, float_predictions, ds.class_names)
            int8_eval = modeldir.evaluate_int8(out, ds)
            int8_device = modeldir.device_metrics(ds, int8_eval["predictions"], int8_eval["false_predictions"])
            modeldir.write_testset(out, ds)
            modeldir.write_golden(out, int8, ds.x_test, ds.y_test, ds.n_classes)
        metrics = _metrics(task, opts, ds, float_metrics, int8_eval, int8, training)
        if int8_device is not None:
            metrics["int8_device"] = int8_device
        metrics["validation"] = modeldir.validation_metrics(out, ds)
        write_json(out / "metrics.json", metrics)
        report.confusion_png(out / "confusion_int8.png", metrics["int8"]["confusion"], ds.class_names,
                             f"{task.name} int8, {ds.info['split']}" + (" (SAMPLE)" if sample else ""))
        report.write_report(out, metrics, ds.class_names)
        write_manifest(out, "train")
    return metrics


def _epoch_line(epoch: int, logs: dict, val_macro_f1: float | None) -> str:
    """The progress line of an epoch: what the selection judged it by, or, without selection, the training loss."""
    if val_macro_f1 is None:
        return f"epoch {epoch + 1}: training loss {logs.get('loss', float('nan')):.3f}"
    return f"epoch {epoch + 1}: val macro-F1 {val_macro_f1:.3f}"


def _metrics(task, opts, ds, float_metrics, int8_eval, int8: bytes, training) -> dict:
    summary = modeldir.model_summary(int8)
    dataset = dict(ds.info)
    dataset.update(train_count=int(len(ds.y_train)), val_count=int(len(ds.y_val)), test_count=int(len(ds.y_test)))
    return {
        "task": task.name,
        "dataset": dataset,
        "float": float_metrics,
        "int8": int8_eval["metrics"],
        "int8_evaluation": modeldir.INT8_EVALUATION,
        "int8_tflm_mismatches": int8_eval["tflm_mismatches"],
        "int8_litert_ref": int8_eval["litert_ref"],
        "int8_outputs": int8_eval["outputs"],
        "tflite_bytes": summary["tflite_bytes"],
        "tflite_sha256": hashlib.sha256(int8).hexdigest(),
        "params": summary["params"],
        "macs": summary["macs"],
        "ops": summary["ops"],
        "seed": opts.seed,
        "training": {**training, "weight_power": opts.weight_power, "learning_rate": opts.learning_rate,
                     "model_options": opts.model_options or {}},
    }
