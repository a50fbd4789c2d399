"""`tinyqi compress RUN_DIR`: one compressed variant of a trained run (pruning, channel pruning, low-rank, QINN;
see docs/compression.md)."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.params import DATA_DIR, OUT_DIR, SEED
from tinyqi.compress.pipeline import METHODS


@click.command("compress")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--method", type=click.Choice(METHODS), default="anneal-prune", show_default=True)
@click.option("--target-sparsity", type=float, default=0.8, show_default=True,
              help="Fraction of prunable weights set to zero (pruning methods and combined).")
@click.option("--channel-sparsity", type=float, default=0.5, show_default=True,
              help="Structured methods (*-channels): fraction of each Conv1D's output channels removed.")
@click.option("--weight-fraction", type=float, default=0.5, show_default=True,
              help="Low-rank budget: factorised weights / dense weights of the factorised layers.")
@click.option("--row-balanced", is_flag=True, help="Equal non-zeros in every output row (fast CSR kernels).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--tempering", is_flag=True, help="Parallel-tempering replica exchange in the annealer.")
@click.option("--out", type=OUT_DIR, default=None,
              help="Variant directory (default: RUN_DIR/variants/<method>[-rb][-s<seed>]); written aside and swapped "
                   "in whole.")
@click.option("--data-dir", type=DATA_DIR, default=None, help="Data root (default: the data the run was trained on).")
def command(run_dir, method, target_sparsity, channel_sparsity, weight_fraction, row_balanced, seed, tempering, out,
            data_dir):
    """Compress the model of RUN_DIR and write a variant model directory."""
    from tinyqi.compress.pipeline import CompressOptions, check_variant_out, compress, load_run, validate
    from tinyqi.ui import Ui

    ui = Ui()
    opts = CompressOptions(method=method, target_sparsity=target_sparsity,
                           channel_sparsity=channel_sparsity, weight_fraction=weight_fraction,
                           row_balanced=row_balanced, seed=seed, tempering=tempering)
    validate(opts)
    if out is not None:
        check_variant_out(run_dir, out)  # before the run and its data are loaded
    with ui.stage("loading the run and its data"):
        run = load_run(run_dir, data_dir)
    row = compress(run, opts, out, log=lambda line: ui.out.print(line, markup=False, highlight=False))
    ui.table(f"{row['variant']} (int8, {run.metrics['dataset']['split']} test set)",
             ["accuracy", "macro-F1", "Se V", "Se S", "non-zero weights", "weight bytes", "effective MACs"],
             [[f"{row['accuracy']:.4f}", f"{row['macro_f1']:.4f}", str(row["se_V"]), str(row["se_S"]),
               str(row["nonzero_weights"]), str(row["weight_bytes"]), str(row["effective_macs"])]])
