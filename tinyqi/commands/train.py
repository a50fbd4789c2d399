"""`tinyqi train <task>`: train, convert to int8, verify against LiteRT and TFLM, write a run directory."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.params import DATA_DIR, EPOCHS, MEMBERS, OUT_DIR, SEED
from tinyqi.tasks import TASKS


@click.command("train")
@click.argument("task")
@click.option("--out", type=OUT_DIR, default=None,
              help="Run directory (default: runs/<task>); written aside and swapped in whole, replacing a previous "
                   "run there together with its variants and builds.")
@click.option("--quick", is_flag=True, help=f"Few epochs: a fast end-to-end check, not a result.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--epochs", type=EPOCHS, default=None, help="Override the task's epoch count.")
@click.option("--data-dir", type=DATA_DIR, default=None, help="Data root holding <dataset>/ (default: $TINYQI_DATA or "
              "~/.cache/tinyqi/data).")
@click.option("--sample/--full", "sample", default=None,
              help="Force the bundled sample / the full data (default: full when present, else the sample).")
@click.option("--split", default=None, help="Train/test split (ecg: inter-patient [default] or intra-patient; "
              "vibration: load3 [default] or lolo:<hp>).")
@click.option("--labels", default=None, help="Label set (vibration: 10 [default] or 4 classes).")
@click.option("--beats", default=None, help="ECG beats: detected [default: the device's own detector] or "
              "annotated (the chain's features at the reference R peaks: a labelled comparison only).")
@click.option("--members", type=MEMBERS, default=1, show_default=True,
              help="Average this many models, each trained alone with its own seed (seed*K .. seed*K+K-1), in one "
                   "int8 model: steadier from seed to seed, K times the cycles and weights.")
def command(task, out, quick, seed, epochs, data_dir, sample, split, labels, beats, members):
    f"""Train TASK ({', '.join(sorted(TASKS))}) end to end."""
    from tinyqi.pipeline import TrainOptions, train_task
    from tinyqi.tasks import get_task
    from tinyqi.ui import Ui

    get_task(task)  # unknown task: one line before any heavy import
    ui = Ui()
    opts = TrainOptions(task, out or Path("runs") / task, seed, quick, epochs, data_dir, sample, split, labels,
                        beats, members=members)
    m = train_task(opts, ui)
    ds = m["dataset"]
    title = f"{task}: {ds['split']} test set, {ds['test_count']} samples" + (" — BUNDLED SAMPLE" if ds["sample"] else "")
    ui.table(title, ["model", "accuracy", "macro-F1"],
             [[kind, f"{m[kind]['accuracy']:.4f}", f"{m[kind]['macro_f1']:.4f}"] for kind in ("float", "int8")])
    ui.table("per class (Se = sensitivity, +P = positive predictivity)",
             ["class", "support", "float Se", "float +P", "int8 Se", "int8 +P"],
             [[c, pc["support"], f"{m['float']['per_class'][c]['se']:.3f}", f"{m['float']['per_class'][c]['ppv']:.3f}",
               f"{pc['se']:.3f}", f"{pc['ppv']:.3f}"] for c, pc in m["int8"]["per_class"].items()])
    ui.out.print(f"int8 .tflite {m['tflite_bytes']} bytes, {m['params']} parameters, {m['macs']} MACs; "
                 f"int8 from the generated C; outputs differing from TFLM: {m['int8_tflm_mismatches']}/{m['int8_outputs']}")
    if "int8_device" in m:
        det, dev = ds["test_detection"], m["int8_device"]
        ui.out.print(f"device job: QRS detection Se {det['se']:.4f} +P {det['ppv']:.4f}; int8 beat by beat (missed "
                     f"and false beats counted) macro-F1 {dev['macro_f1']:.4f}, N/S/V {dev['macro_f1_nsv']:.4f}; "
                     + ", ".join(f"{c} Se/+P {v['se']:.3f}/{v['ppv']:.3f}" for c, v in dev["per_class"].items()
                                 if c in ("N", "S", "V", "F")))
    ui.out.print(f"run directory: {opts.out}")
    if ds["sample"]:
        ui.warn("these figures come from the bundled SAMPLE, not the full dataset")
