"""`tinyqi sweep <task>`: a multi-objective search (Ray Tune + Optuna) over model, training and compression,
every trial trained, compressed, built and measured like `tinyqi train/compress/bench`; see docs/sweep.md."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.params import DATA_DIR, OUT_DIR, SEED, IntAtLeast, PositiveFloat

TRIALS = IntAtLeast(1, "give how many trials the sweep runs in total, e.g. 20")
CONCURRENT = IntAtLeast(1, "give how many trials run at a time, e.g. 2 (one CPU each)")
BUDGET = PositiveFloat("give the minutes after which no new trial starts, e.g. 60")


@click.command("sweep")
@click.argument("task")
@click.option("--trials", type=TRIALS, default=None,
              help="Trials in total, including those a resumed sweep has run (default: 20; --resume: the sweep's "
                   "own).")
@click.option("--budget-minutes", type=BUDGET, default=None,
              help="No new trial starts after this many minutes of this run; running trials finish.")
@click.option("--concurrent", type=CONCURRENT, default=None,
              help="Trials at a time, one CPU each (default: the machine's cores; on a cluster: as many as fit).")
@click.option("--address", default=None,
              help="A Ray cluster's head, HOST:PORT (what `ray start --head` prints; default: $RAY_ADDRESS, else a "
                   "local Ray instance).")
@click.option("--out", type=OUT_DIR, default=None, help="Sweep directory (default: runs/<task>-sweep).")
@click.option("--resume", is_flag=True, help="Continue the sweep in --out: finished trials are kept, interrupted "
                                             "ones run again, the search goes on from what it has learnt.")
@click.option("--quick", is_flag=True, default=None,
              help="The quick space: few epochs, one-step compression, the cheaper methods (a look, not a result).")
@click.option("--sample/--full", "sample", default=None,
              help="Force the bundled sample / the full data (default: full when present, else the sample).")
@click.option("--data-dir", type=DATA_DIR, default=None,
              help="Data root holding <dataset>/ (default: $TINYQI_DATA or ~/.cache/tinyqi/data, on every machine).")
@click.option("--board", "boards", multiple=True,
              help="Also measure on this board (repeatable); nrf52840 is always measured: its µJ is the objective.")
@click.option("--seed", type=SEED, default=None, help="Every trial's training and compression seed (default 0).")
@click.option("--bench", "bench", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A bench.json whose variants are drawn on the same axes (default: runs/<task>/bench/bench.json "
                   "when it exists).")
def command(task, trials, budget_minutes, concurrent, address, out, resume, quick, sample, data_dir, boards, seed,
            bench):
    """Search model, training and compression settings of TASK (ecg, vibration) for the best DS1-validation
    macro-F1 at the least energy per inference and flash; writes sweep.json, pareto.json/.png, report.md and the
    Pareto points as run directories."""
    from tinyqi.errors import TinyqiError
    from tinyqi.tasks import get_task

    get_task(task)  # unknown task: one line before Ray or TensorFlow is imported
    if bench is not None and not bench.is_file():
        raise TinyqiError(f"--bench {bench}: no such file; give the bench.json `tinyqi bench` wrote "
                          f"(default place: runs/{task}/bench/bench.json)")
    from tinyqi.sweep.run import SweepOptions, run_sweep
    from tinyqi.ui import Ui

    opts = SweepOptions(task, out, trials, budget_minutes, concurrent, address, resume, quick, sample, data_dir,
                        tuple(boards), seed, bench=bench)
    run_sweep(opts, Ui())
