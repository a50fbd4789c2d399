"""`tinyqi build --board B RUN_DIR`: generated C + harness (or `--app monitor`: the monitoring firmware), built offline
with PlatformIO; flash/RAM from the ELF."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.app_options import app_options, monitor_plan
from tinyqi.commands.params import OUT_DIR


@click.command("build")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--board", required=True, help="Board profile: nrf52840 or stm32l4r5.")
@click.option("--variant", default=None, help="Build RUN_DIR/variants/NAME (a compressed model) instead of RUN_DIR.")
@click.option("--out", "out_dir", type=OUT_DIR, default=None,
              help="Build directory (default: <model dir>/firmware/<board>[-float][-profile], "
                   "<board>-monitor[-saadc|-vibration] for --app monitor).")
@click.option("--profile", is_flag=True, help="Build with -DTQ_PROFILE: per-layer cycles (TQL lines) for vector 0.")
@click.option("--float", "float_model", is_flag=True, help="Build RUN_DIR's float32 model (the FPU baseline).")
@app_options(default_source="stream")
def command(run_dir, board, variant, out_dir, profile, float_model, app, source, records, seconds, start, data_dir,
            sample):
    """Build the firmware harness (or --app monitor) for the model in RUN_DIR and print its flash and RAM use."""
    from tinyqi.firmware.boards import get_board
    from tinyqi.firmware.build import build, default_out_dir, model_directory
    from tinyqi.ui import Ui

    profile_board = get_board(board)
    model_dir = model_directory(run_dir, variant)
    source, excerpts = monitor_plan(profile_board, app, source, records, seconds, start, data_dir, sample, "stream",
                                    {"--profile": profile, "--float": float_model}, model_dir)
    if app == "monitor":
        _build_monitor(model_dir, profile_board, out_dir, source, excerpts)
        return
    out_dir = out_dir or default_out_dir(model_dir, profile_board, profile, float_model)
    ui = Ui()
    with ui.stage(f"firmware for {model_dir} on {board} (offline PlatformIO)"):
        result = build(model_dir, profile_board, out_dir, profile=profile, float_model=float_model)
    ui.out.print(f"{result.elf}\n{result.breakdown.table()}", highlight=False, soft_wrap=True)


def _build_monitor(model_dir, board, out_dir, source, excerpts):
    from tinyqi.firmware.monitor import build_monitor, default_monitor_dir
    from tinyqi.ui import Ui

    ui = Ui()
    out_dir = out_dir or default_monitor_dir(model_dir, board, source)
    what = ", ".join(f"{e.record} ({e.seconds:g} s)" for e in excerpts) or "the SAADC at 360 Hz"
    with ui.stage(f"monitor firmware for {model_dir} on {board.name}, samples from {what} (offline PlatformIO)"):
        built = build_monitor(model_dir, board, out_dir, excerpts, source)
    ui.out.print(f"{built.result.elf}\n{built.result.breakdown.table()}", highlight=False, soft_wrap=True)
    stream = f" + {built.stream_bytes} B recorded stream (test data)" if built.stream_bytes else ""
    ui.out.print(f"monitor firmware: flash {built.firmware_flash_bytes} B{stream}, RAM {built.result.ram_bytes} B",
                 highlight=False, soft_wrap=True)
    for excerpt in excerpts:
        ui.out.print(f"record {excerpt.record}: samples {excerpt.start}..{excerpt.start + len(excerpt.adc) - 1} from "
                     f"{excerpt.source}", highlight=False, soft_wrap=True)
