"""Leave-one-load-out: one model per held-out CWRU motor load, each trained by the very same `tinyqi train` pipeline
(split `lolo:<hp>`), and one table of their int8 figures.

Every fold is a complete run directory `OUT/hp<load>/` (model, int8 .tflite, metrics.json, golden vectors); the
table `OUT/lolo.json` + `OUT/lolo.md` is made from those metrics only, so it can be rebuilt without training.
Accuracy and macro-F1 come from the int8 model (tinyqi's generated C, checked against TFLM), never from float.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from tinyqi.compress import storage
from tinyqi.data import cwru
from tinyqi.errors import TinyqiError
from tinyqi.files import read_json, require, write_json, write_text
from tinyqi.manifest import check_model_dir
from tinyqi.report import LOAD_SPLIT_CAVEAT
from tinyqi.tflite_model import load_tflite

COLUMNS = ("test_load_hp", "train_loads_hp", "test_windows", "float_accuracy", "int8_accuracy", "int8_macro_f1",
           "int8_tflm_mismatches", "weight_bytes")


def fold_dir(out: Path, load_hp: int) -> Path:
    return Path(out) / f"hp{load_hp}"


def run_lolo(opts, ui) -> dict:
    """Train one fold per load with `opts` (a pipeline.TrainOptions whose `out` is the LOLO directory)."""
    from tinyqi.pipeline import train_task

    out = Path(opts.out)
    for load in cwru.LOADS_HP:
        ui.out.print(f"fold: test load {load} HP -> {fold_dir(out, load)}")
        train_task(replace(opts, out=fold_dir(out, load), split=f"lolo:{load}"), ui)
    return write_table(out)


def write_table(out: Path) -> dict:
    """lolo.json + lolo.md from the fold run directories under `out`."""
    out = Path(out)
    missing = [fold_dir(out, load) for load in cwru.LOADS_HP if not (fold_dir(out, load) / "metrics.json").is_file()]
    if missing:
        raise TinyqiError(f"{missing[0] / 'metrics.json'}: missing ({len(missing)} of {len(cwru.LOADS_HP)} folds); "
                          "train the folds first with `tinyqi lolo vibration --out DIR` (without --table-only)")
    rows = [fold_row(fold_dir(out, load)) for load in cwru.LOADS_HP]
    first = fold_metrics(fold_dir(out, cwru.LOADS_HP[0]))
    result = {
        "task": first["task"],
        "sample": first["dataset"]["sample"],
        "seed": first["seed"],
        "epochs": first["training"]["epochs"],
        "normal_class": "only 97.mat (0 HP) exists: in every fold it is split by time (first 75 % train side, "
                        "last 25 % test), not by load",
        "caveat": LOAD_SPLIT_CAVEAT.replace("**", ""),
        "rows": rows,
        "int8_accuracy_mean": round(float(np.mean([r["int8_accuracy"] for r in rows])), 4),
        "int8_accuracy_min": min(r["int8_accuracy"] for r in rows),
        "int8_macro_f1_mean": round(float(np.mean([r["int8_macro_f1"] for r in rows])), 4),
        "int8_macro_f1_min": min(r["int8_macro_f1"] for r in rows),
    }
    write_json(out / "lolo.json", result)
    write_text(out / "lolo.md", markdown(result))
    return result


def fold_metrics(run_dir: Path) -> dict:
    """A fold's metrics.json with every key the table reads."""
    path = Path(run_dir) / "metrics.json"
    todo = "train that fold again with `tinyqi lolo vibration --out DIR`"
    metrics = read_json(path, todo)
    require(metrics, path, {"task": str, "seed": int, "training.epochs": int, "dataset.sample": bool,
                            "dataset.split": str, "dataset.test_count": int, "float.accuracy": (int, float),
                            "int8.accuracy": (int, float), "int8.macro_f1": (int, float), "int8.per_class": dict,
                            "int8_tflm_mismatches": int}, todo)
    return metrics


def fold_row(run_dir: Path) -> dict:
    check_model_dir(run_dir, stage="train")  # its metrics.json and model are one training's (tinyqi.manifest)
    m = fold_metrics(run_dir)
    test_load = cwru.parse_split(m["dataset"]["split"])
    model = load_tflite(Path(run_dir) / "model_int8.tflite")
    return {
        "test_load_hp": test_load,
        "train_loads_hp": [hp for hp in cwru.LOADS_HP if hp != test_load],
        "test_windows": m["dataset"]["test_count"],
        "float_accuracy": m["float"]["accuracy"],
        "int8_accuracy": m["int8"]["accuracy"],
        "int8_macro_f1": m["int8"]["macro_f1"],
        "int8_tflm_mismatches": m["int8_tflm_mismatches"],
        "weight_bytes": storage.storage(model, storage.worthwhile_tables(model))["weight_bytes"],
        "int8_recall": {name: pc["se"] for name, pc in m["int8"]["per_class"].items()},
    }


def markdown(result: dict) -> str:
    lines = [
        f"# Leave-one-load-out: {result['task']} (CWRU 12 kHz drive end, 10 classes, int8)",
        "",
        ("**BUNDLED SAMPLE: a smoke test, not a CWRU result.** " if result["sample"] else "")
        + f"One model per held-out motor load (seed {result['seed']}, {result['epochs']} epochs): fault recordings "
        "of the other three loads train, every recording of the held-out load tests; no recording is on both sides. "
        f"Normal class: {result['normal_class']}.",
        "",
        LOAD_SPLIT_CAVEAT,
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in result["rows"]:
        cells = [", ".join(map(str, v)) if isinstance(v, list) else str(v) for v in (r[k] for k in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"int8 accuracy: mean {result['int8_accuracy_mean']}, worst fold {result['int8_accuracy_min']}; "
        f"int8 macro-F1: mean {result['int8_macro_f1_mean']}, worst fold {result['int8_macro_f1_min']}.",
        "",
        "## int8 recall per class and fold",
        "",
    ]
    names = list(result["rows"][0]["int8_recall"])
    lines += ["| test load | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for r in result["rows"]:
        lines.append(f"| {r['test_load_hp']} HP | " + " | ".join(f"{r['int8_recall'][n]:.3f}" for n in names) + " |")
    return "\n".join(lines) + "\n"
