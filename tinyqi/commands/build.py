"""`tinyqi build --board B RUN_DIR`: generated C + harness, built offline with PlatformIO; flash/RAM from the ELF."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("build")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--board", required=True, help="Board profile: nrf52840 or stm32l4r5.")
@click.option("--variant", default=None, help="Build RUN_DIR/variants/NAME (a compressed model) instead of RUN_DIR.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Build directory (default: <model dir>/firmware/<board>[-float][-profile]).")
@click.option("--profile", is_flag=True, help="Build with -DTQ_PROFILE: per-layer cycles (TQL lines) for vector 0.")
@click.option("--float", "float_model", is_flag=True, help="Build RUN_DIR's float32 model (the FPU baseline).")
def command(run_dir, board, variant, out_dir, profile, float_model):
    """Build the firmware harness for the model in RUN_DIR and print its flash and RAM use."""
    from tinyqi.firmware.boards import get_board
    from tinyqi.firmware.build import build, default_out_dir, model_directory
    from tinyqi.ui import Ui

    profile_board = get_board(board)
    model_dir = model_directory(run_dir, variant)
    out_dir = out_dir or default_out_dir(model_dir, profile_board, profile, float_model)
    ui = Ui()
    with ui.stage(f"firmware for {model_dir} on {board} (offline PlatformIO)"):
        result = build(model_dir, profile_board, out_dir, profile=profile, float_model=float_model)
    ui.out.print(f"{result.elf}\n{result.breakdown.table()}", highlight=False, soft_wrap=True)
