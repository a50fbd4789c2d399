"""`tinyqi robust RUN_DIR`: the run's int8 model with every fiducial point moved (robustness.json)."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.params import DATA_DIR


def _shifts(ctx, param, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"'{value}': a comma-separated list of integers, e.g. -6,-4,-2,0,2,4,6") from None


@click.command("robust")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--shifts", default="-6,-4,-2,0,2,4,6", show_default=True, callback=_shifts,
              help="Fiducial shifts in 360 Hz samples (even numbers).")
@click.option("--data-dir", type=DATA_DIR, default=None,
              help="Data root holding mitdb/ (default: $TINYQI_DATA or "
              "~/.cache/tinyqi/data).")
def command(run_dir, shifts, data_dir):
    """Score RUN_DIR's int8 model with every beat's fiducial point moved by each shift."""
    from tinyqi.files import write_json
    from tinyqi.robustness import fiducial_shifts
    from tinyqi.ui import Ui

    ui = Ui()
    with ui.stage(f"scoring {len(shifts)} fiducial shifts on the test split"):
        result = fiducial_shifts(run_dir, shifts, data_dir)
    rows = [[s, f"{r['accuracy']:.4f}", f"{r['macro_f1']:.4f}", f"{r['device_macro_f1']:.4f}", f"{r['S_se']:.3f}",
             f"{r['S_ppv']:.3f}", f"{r['V_se']:.3f}", f"{r['V_ppv']:.3f}"] for s, r in result["shifts"].items()]
    ui.table("int8 with the fiducial moved (360 Hz samples)", ["shift", "accuracy", "macro-F1", "device macro-F1",
             "S Se", "S +P", "V Se", "V +P"], rows)
    path = write_json(Path(run_dir) / "robustness.json", result)
    ui.out.print(f"written: {path}")
