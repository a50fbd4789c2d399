"""`tinyqi cv ecg`: patient-grouped cross-validation over DS1, the way every ECG input and training choice is made
(DS2 is never read)."""

from __future__ import annotations

import click

from tinyqi.commands.params import DATA_DIR, EPOCHS, MEMBERS, OUT_FILE, SEEDS


@click.command("cv")
@click.argument("task", type=click.Choice(["ecg"]))
@click.option("--data-dir", type=DATA_DIR, default=None,
              help="Data root holding mitdb/ (default: $TINYQI_DATA or ~/.cache/tinyqi/data).")
@click.option("--seeds", type=SEEDS, default="0,1,2", show_default=True, help="Comma-separated training seeds.")
@click.option("--epochs", type=EPOCHS, default=20, show_default=True, help="Training epochs per fold (no selection).")
@click.option("--beats", type=click.Choice(["detected", "annotated"]), default="detected", show_default=True,
              help="The device's detected beats, or the chain at the reference R peaks (comparison only).")
@click.option("--sample", is_flag=True, help="The bundled sample's DS1 excerpts (a smoke test, not a selection).")
@click.option("--out", type=OUT_FILE, default=None,
              help="Also write every seed's figures (per class, per record) as JSON here.")
@click.option("--members", type=MEMBERS, default=1, show_default=True,
              help="Each fold's model is the average of this many models (as `tinyqi train --members`).")
@click.option("--curve", is_flag=True,
              help="Also score the pooled folds after every epoch (mean and std over seeds): the evidence for the "
                   "fixed epoch count `tinyqi train ecg` uses.")
def command(task, data_dir, seeds, epochs, beats, sample, out, members, curve):
    """Train the float ECG model on three of four DS1 folds of whole records, score the fourth, pool the folds'
    predictions; one row per seed, then mean and std."""
    from tinyqi import cv
    from tinyqi.files import write_json
    from tinyqi.ui import Ui

    ui = Ui()
    cv.check_curve(curve, members)  # before the chain runs over the records
    with ui.stage("running the device chain over the DS1 records"):
        per_record = cv.describe_records(data_dir, sample=sample, beats=beats)
        noisy = cv.describe_noisy(data_dir, sample=sample, beats=beats)
    folds = cv.folds_present(per_record)
    ui.out.print("folds: " + " | ".join(", ".join(f) for f in folds), markup=False, highlight=False)
    result = cv.cross_validate(per_record, noisy=noisy, seeds=seeds, epochs=epochs, folds=folds, members=members,
                               curve=curve, progress=lambda seed, i, n: ui.out.print(f"seed {seed}: fold {i} of {n} done",
                                                                        markup=False, highlight=False))
    result["beats"] = beats
    rows = [[row["seed"], *(f"{row[k]:.3f}" for k in cv.SUMMARY_KEYS)] for row in result["seeds"]]
    rows += [[stat, *(f"{result[stat][k]:.3f}" for k in cv.SUMMARY_KEYS)] for stat in ("mean", "std")]
    averaged = f", the average of {members} models" if members > 1 else ""
    ui.table(f"DS1 {len(folds)}-fold cross-validation, {epochs} epochs, {beats} beats{averaged}",
             ["seed", "macro", "N/S/V", "S F1", "S Se", "S +P", "V F1", "V Se", "V +P", "N Se"], rows)
    if curve:
        ui.table("after each epoch (mean ± std over seeds)", ["epoch", "N/S/V", "S F1", "V F1", "N Se"],
                 [[point["epoch"], *(f"{point['mean'][k]:.3f} ± {point['std'][k]:.3f}"
                                     for k in ("macro_f1_nsv", "sveb_f1", "veb_f1", "n_se"))]
                  for point in result["curve"]])
    if out:
        write_json(out, result)
        ui.out.print(f"written: {out}")
