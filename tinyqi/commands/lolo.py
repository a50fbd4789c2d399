"""`tinyqi lolo <task>`: leave-one-load-out, one trained model per held-out motor load, into lolo.json/lolo.md."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.params import DATA_DIR, EPOCHS, OUT_DIR, SEED

# Short screen headers for tinyqi.lolo.COLUMNS (same order); lolo.json/lolo.md keep the full key names.
HEADERS = ("test HP", "train HP", "windows", "float acc", "int8 acc", "int8 F1", "≠ TFLM", "weight B")


@click.command("lolo")
@click.argument("task", type=click.Choice(["vibration"]))
@click.option("--out", type=OUT_DIR, default=None,
              help="Directory for the fold runs hp0..hp3 and lolo.json/lolo.md (default: runs/<task>_lolo).")
@click.option("--quick", is_flag=True, help="Few epochs per fold: a fast end-to-end check, not a result.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--epochs", type=EPOCHS, default=None, help="Override the task's epoch count.")
@click.option("--data-dir", type=DATA_DIR, default=None, help="Data root holding <dataset>/ (default: $TINYQI_DATA or "
              "~/.cache/tinyqi/data).")
@click.option("--sample/--full", "sample", default=None,
              help="Force the bundled sample / the full data (default: full when present, else the sample).")
@click.option("--table-only", is_flag=True, help="Rebuild lolo.json/lolo.md from fold runs already in --out.")
def command(task, out, quick, seed, epochs, data_dir, sample, table_only):
    """Train TASK once per held-out motor load (0-3 HP) and tabulate the int8 accuracy and macro-F1 per fold."""
    from tinyqi.lolo import COLUMNS, run_lolo, write_table
    from tinyqi.pipeline import TrainOptions
    from tinyqi.ui import Ui

    ui = Ui()
    out = out or Path("runs") / f"{task}_lolo"
    result = write_table(out) if table_only else run_lolo(TrainOptions(task, out, seed, quick, epochs, data_dir,
                                                                       sample), ui)
    ui.table("leave-one-load-out (int8)" + (" — BUNDLED SAMPLE" if result["sample"] else ""), list(HEADERS),
             [[", ".join(map(str, r[k])) if isinstance(r[k], list) else str(r[k]) for k in COLUMNS]
              for r in result["rows"]])
    ui.out.print(f"int8 accuracy mean {result['int8_accuracy_mean']} (worst {result['int8_accuracy_min']}), "
                 f"macro-F1 mean {result['int8_macro_f1_mean']} (worst {result['int8_macro_f1_min']})")
    ui.out.print(result["caveat"])
    ui.out.print(f"written: {out / 'lolo.json'}, {out / 'lolo.md'}")
