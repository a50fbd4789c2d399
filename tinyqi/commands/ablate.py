"""`tinyqi ablate <task>`: every compression technique against plain baselines, int8, on one trained run."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.params import DATA_DIR, OUT_DIR, SEEDS


@click.command("ablate")
@click.argument("task", type=click.Choice(["ecg"]))
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Trained run directory (default: runs/<task>).")
@click.option("--out", type=OUT_DIR, default=None,
              help="Where ablation.json/.md/.png go (default: the run directory).")
@click.option("--seeds", type=SEEDS, default="0,1,2", show_default=True, help="Comma-separated seeds for the pruning rows.")
@click.option("--target-sparsity", type=float, default=0.8, show_default=True)
@click.option("--channel-sparsity", type=float, default=0.5, show_default=True)
@click.option("--weight-fraction", type=float, default=0.5, show_default=True)
@click.option("--reuse", is_flag=True, help="Keep variants already built from this run with the same options.")
@click.option("--data-dir", type=DATA_DIR, default=None, help="Data root (default: the data the run was trained on).")
def command(task, run_dir, out, seeds, target_sparsity, channel_sparsity, weight_fraction, reuse, data_dir):
    """Build every variant of the ablation and write ablation.json, ablation.md and a plot."""
    from tinyqi.ablate import ROW_KEYS, run_ablation
    from tinyqi.compress.pipeline import CompressOptions, load_run, validate
    from tinyqi.ui import Ui

    base = CompressOptions(target_sparsity=target_sparsity, channel_sparsity=channel_sparsity,
                           weight_fraction=weight_fraction)
    validate(base)
    ui = Ui()
    run_dir = run_dir or Path("runs") / task
    with ui.stage("loading the run and its data"):
        run = load_run(run_dir, data_dir)
    result = run_ablation(run, out or run_dir, seeds, base, reuse,
                          log=lambda line: ui.out.print(line, markup=False, highlight=False))
    ui.table("ablation (int8)", list(ROW_KEYS), [[r[k] for k in ROW_KEYS] for r in result["rows"]])
    ui.out.print(f"written: {(out or run_dir) / 'ablation.json'}, ablation.md, ablation_accuracy_vs_bytes.png")
