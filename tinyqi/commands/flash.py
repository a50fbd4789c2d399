"""`tinyqi flash --board B [RUN_DIR]`: build the harness (or `--app monitor`, by default reading the board's SAADC)
and upload it with PlatformIO's upload target (pyOCD)."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.app_options import app_options, monitor_plan
from tinyqi.commands.params import OUT_DIR


@click.command("flash")
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--board", required=True, help="Board profile: nrf52840 or stm32l4r5.")
@click.option("--variant", default=None, help="Flash RUN_DIR/variants/NAME instead of RUN_DIR.")
@click.option("--out", "out_dir", type=OUT_DIR, default=None,
              help="Build directory (default: <model dir>/firmware/<board>[-float][-profile], "
                   "<board>-monitor[-saadc|-vibration] for --app monitor).")
@click.option("--profile", is_flag=True, help="Build with -DTQ_PROFILE (per-layer cycles for vector 0).")
@click.option("--float", "float_model", is_flag=True, help="Flash RUN_DIR's float32 model (the FPU baseline).")
@click.option("--dry-run", is_flag=True, help="Print the exact commands instead of running them.")
@app_options(default_source="saadc")
def command(run_dir, board, variant, out_dir, profile, float_model, dry_run, app, source, records, seconds, start,
            data_dir, sample):
    """Build and upload the harness (or --app monitor) for RUN_DIR's model (without RUN_DIR: the built-in test
    model)."""
    from tinyqi.errors import TinyqiError
    from tinyqi.firmware.boards import get_board
    from tinyqi.firmware.build import default_out_dir, model_directory
    from tinyqi.firmware.flash import flash, plan_flash
    from tinyqi.firmware.monitor import default_monitor_dir, environment, monitor_task

    profile_board = get_board(board)
    if run_dir is None and (variant is not None or out_dir is not None or float_model):
        raise TinyqiError("--variant, --out and --float need RUN_DIR; without it the built-in test model is flashed")
    if run_dir is None and records:
        raise TinyqiError("--record needs RUN_DIR; without it the built-in test model and its stream are flashed")
    model_dir = model_directory(run_dir, variant) if run_dir is not None else None
    source, excerpts = monitor_plan(profile_board, app, source, records, seconds, start, data_dir, sample, "saadc",
                                    {"--profile": profile, "--float": float_model}, model_dir)
    task = monitor_task(model_dir) if app == "monitor" else None
    env = environment(profile_board, source, task) if app == "monitor" else None
    if model_dir is not None and app == "monitor":
        out_dir = out_dir or default_monitor_dir(model_dir, profile_board, source)
    elif model_dir is not None:
        out_dir = out_dir or default_out_dir(model_dir, profile_board, profile, float_model)
    plan = plan_flash(profile_board, model_dir, out_dir, None, profile, float_model, env, excerpts)
    if dry_run:
        click.echo("\n".join(plan.describe()))
        return
    flash(plan)
    lines = "TQ lines" if app != "monitor" else (
        "TQR/TQW lines, one per window" if task == "vibration" else "TQR/TQB lines, one per beat")
    click.echo(f"flashed {profile_board.name}; its console prints the {lines} ({profile_board.console})")
