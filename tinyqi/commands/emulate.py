"""`tinyqi emulate`: run a firmware ELF in an emulator and print its per-vector results, cycles and energy (with
`--app monitor`: the monitoring firmware's beats checked against the Python reference, and the whole job's energy)."""

from __future__ import annotations

from pathlib import Path

import click

from tinyqi.commands.params import PER_MINUTE, IntAtLeast, PositiveFloat
from tinyqi.emulate.run import DEFAULT_TIMEOUTS, ENGINES
from tinyqi.emulate.unicorn_engine import DEFAULT_BUDGET
from tinyqi.energy import ECG_INFERENCES_PER_MINUTE

BUDGET = IntAtLeast(1, f"give the unicorn engine's instruction budget, e.g. {DEFAULT_BUDGET}")
TIMEOUT = PositiveFloat("give the limit in seconds, e.g. 120")
SHOW = IntAtLeast(-1, "give how many vector lines to print, or -1 for all")


@click.command("emulate")
@click.argument("path", metavar="ELF_OR_RUN_DIR", type=click.Path(exists=True, path_type=Path))
@click.option("--board", default="nrf52840", show_default=True, help="Board profile the ELF was built for.")
@click.option("--engine", type=click.Choice(ENGINES), default="unicorn", show_default=True,
              help="unicorn: built-in, with the Cortex-M4 cycle model; qemu, renode: functional cross-checks.")
@click.option("--budget", type=BUDGET, default=DEFAULT_BUDGET, show_default=True,
              help="Instruction budget of the unicorn engine.")
@click.option("--timeout", type=TIMEOUT, default=None,
              help="Limit in seconds: wall-clock for unicorn and qemu, emulated time for renode (default: "
                   + ", ".join(f"{engine} {seconds:g}" for engine, seconds in DEFAULT_TIMEOUTS.items()) + ").")
@click.option("--per-minute", type=PER_MINUTE, default=None,
              help=f"Inferences per minute for average power and battery life (default {ECG_INFERENCES_PER_MINUTE:g}: "
                   "one per beat at 72 bpm; --app monitor on a vibration run: 1 window per minute).")
@click.option("--show", type=SHOW, default=10, show_default=True, help="Per-vector lines to print (-1: all).")
@click.option("--app", default="harness", show_default=True,
              help="harness: the golden-vector check; monitor: the monitoring firmware `tinyqi build --app monitor` "
                   "built for the model directory ELF_OR_RUN_DIR, beat by beat against the Python reference.")
def command(path, board, engine, budget, timeout, per_minute, show, app):
    """Run the harness ELF (or the one built under a run directory) and report its results."""
    from tinyqi.emulate.run import resolve_elf, run_firmware
    from tinyqi.firmware.monitor import check_app
    from tinyqi.ui import Ui

    check_app(app)
    if app == "monitor":
        from tinyqi.commands.monitor_report import emulate_monitor

        emulate_monitor(path, board, engine, budget, timeout, per_minute, show)
        return

    per_minute = ECG_INFERENCES_PER_MINUTE if per_minute is None else per_minute
    ui = Ui()
    elf = resolve_elf(path, board)
    if path.is_dir():
        from tinyqi.manifest import check_model_dir

        check_model_dir(path)  # the model directory the harness was built from still holds one model's files
    with ui.stage(f"{elf.name} on {engine} ({board})"):
        result = run_firmware(elf, board, engine, budget=budget, timeout=timeout)
    vectors = result.vectors if show < 0 else result.vectors[:show]
    ui.table(f"{len(vectors)} of {len(result.vectors)} vectors", ["vector", "class", "outputs", "cycles", "ok"],
             [[v.index, v.predicted_class, ",".join(map(str, v.outputs)),
               v.cycles if result.cycle_model else "-", "yes" if v.ok else "NO"] for v in vectors])
    if result.layers:
        ui.table("cycles per layer (vector 0)", ["layer", "cycles"],
                 [[name, cycles if result.cycle_model else "-"] for name, cycles in result.layer_cycles.items()])
    for line in _summary(result, per_minute, ui):
        ui.out.print(line, soft_wrap=True)
    if result.mismatches:
        raise click.ClickException(f"{result.mismatches} of {result.done.vectors} vectors differ from the golden "
                                   "outputs")


def _summary(result, per_minute: float, ui) -> list[str]:
    from tinyqi.energy import estimate, power_figures
    from tinyqi.errors import TinyqiError
    from tinyqi.firmware.boards import get_board

    run = result.run
    lines = [f"vectors: {result.done.vectors}, mismatches: {result.mismatches}, exit code: {run.exit_code}"]
    if run.instructions_per_second:
        lines.append(f"emulated {run.instructions:,} instructions in {run.seconds:.2f} s "
                     f"({run.instructions_per_second / 1e6:.1f} M instructions/s)")
    if not result.cycle_model:
        lines.append(f"cycles: not modelled by the {result.engine} engine (functional run); use --engine unicorn")
        return lines
    mean = result.mean_cycles
    if mean is None:
        lines.append("no golden vector was run: nothing to time")
        return lines
    lines.append(f"mean cycles per inference: {mean:,.0f} = {result.latency_seconds * 1e3:.3f} ms at "
                 f"{result.clock_hz / 1e6:g} MHz (Cortex-M4 timing model, docs/emulation.md)")
    try:
        figures = power_figures(get_board(result.board))
    except TinyqiError as exc:
        ui.warn(f"no energy estimate: {exc}")
        return lines
    energy = estimate(mean, figures, per_minute)
    lines.append(f"energy: {energy.energy_uj:.3f} uJ per inference; at {per_minute:g} per minute "
                 f"{energy.average_power_w * 1e6:.2f} uW average, {energy.battery_days:,.0f} days on a "
                 f"{energy.cell.name} ({energy.cell.capacity_mah:g} mAh)")
    lines.append(f"figures: {figures.provenance}")
    return lines
