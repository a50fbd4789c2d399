"""`tinyqi emulate --app monitor`: run the monitoring firmware, print its check against the Python reference (a line
per beat for ECG, per window for vibration), the cycles, the firmware's size and the energy of the whole job, and
write them to <model dir>/monitor.json."""

from __future__ import annotations

from pathlib import Path

import click


def emulate_monitor(path: Path, board: str, engine: str, budget: int, timeout: float | None,
                    per_minute: float | None, show: int) -> None:
    """per_minute: beats (ECG) or windows (vibration) per minute; None: the task's rate (tinyqi.energy)."""
    from tinyqi.emulate.monitor import RESULT_FILE, job_energy, run_monitor, summary, task_check
    from tinyqi.energy import TASK_INFERENCES_PER_MINUTE
    from tinyqi.errors import TinyqiError
    from tinyqi.files import write_json
    from tinyqi.firmware.boards import get_board
    from tinyqi.firmware.monitor import monitor_task
    from tinyqi.firmware.size_report import analyse_elf
    from tinyqi.ui import Ui

    profile = get_board(board)
    if not path.is_dir():
        raise TinyqiError(f"{path}: --app monitor takes the model directory (RUN_DIR or a variant), whose model "
                          "gives the reference; the firmware is the one `tinyqi build --app monitor` built there")
    task = monitor_task(path)
    per_minute = TASK_INFERENCES_PER_MINUTE[task] if per_minute is None else per_minute
    ui = Ui()
    with ui.stage(f"{task_check(task).label} monitor firmware of {path} on {engine} ({board}), checked against the "
                  "Python reference"):
        result = run_monitor(path, profile, engine, budget=budget, timeout=timeout)
    print_lines(ui, result, show)
    energy = figures = sampling = None
    try:
        energy, figures, sampling = job_energy(result, profile, per_minute)
    except TinyqiError as exc:
        ui.warn(f"no energy estimate: {exc}")
    data = summary(result, analyse_elf(result.elf, profile), energy, figures, sampling)
    for line in summary_lines(data, result):
        ui.out.print(line, soft_wrap=True, highlight=False)
    written = write_json(path / RESULT_FILE, data)
    ui.out.print(f"written: {written}", soft_wrap=True, highlight=False)
    if result.mismatches:
        raise click.ClickException(f"{result.mismatches} of {result.compared} {result.task.unit} lines differ from "
                                   "the Python reference (see first_mismatch in the table above)")


def print_lines(ui, result, show: int) -> None:
    task, unit = result.task, result.task.unit
    ui.table(f"records: {unit} lines against the reference ({result.engine})",
             ["record", "seconds", f"firmware {unit}s", f"reference {unit}s", "mismatches"],
             [[c.name, f"{c.samples / task.rate_hz:g}", c.firmware_lines, c.reference_lines, c.mismatches]
              for c in result.checks])
    for check in result.checks:
        if check.first_mismatch:
            ui.warn(f"record {check.name}: first mismatch at {check.first_mismatch}")
    lines = [(record.name, line) for record in result.output.records for line in record.lines]
    shown = lines if show < 0 else lines[:show]
    cycles = lambda value: value if result.cycle_model else "-"
    chain = lambda line: [cycles(line.chain_cycles)] if task.chain_per_line else []
    ui.table(f"{len(shown)} of {len(lines)} {unit}s",
             ["record", task.position, "class", "outputs", *(["chain cycles"] if task.chain_per_line else []),
              "model cycles"],
             [[name, line.n, line.predicted_class, ",".join(map(str, line.outputs)), *chain(line), cycles(line.cycles)]
              for name, line in shown])


def summary_lines(data: dict, result) -> list[str]:
    task, unit = result.task, result.task.unit
    lines = [f"{unit}s compared: {data[f'{unit}s_compared']}, mismatches: {data['mismatches']} "
             f"({data[task.seconds_key]:g} s of {task.label}, {len(data['records'])} records)"]
    if data["cycle_model"]:
        timing = f"(Cortex-M4 timing model at {result.clock_hz / 1e6:g} MHz, docs/emulation.md)"
        lines += CYCLE_LINES[task.name](data, timing)
    else:
        lines.append(f"cycles: not modelled by the {result.engine} engine (functional run); use --engine unicorn")
    lines.append(f"firmware: flash {data['firmware_flash_bytes']:,} B (+ {data['stream_flash_bytes']:,} B recorded "
                 f"stream, test data), RAM {data['ram_bytes']:,} B (stack {data['stack_reserved_bytes']:,} B reserved, "
                 f"{data['stack_peak_bytes']:,} B used at most)")
    if data["energy"]:
        lines += ENERGY_LINES[task.name](data["energy"])
    return lines


def ecg_cycle_lines(data: dict, timing: str) -> list[str]:
    per_beat = data["model_cycles_per_beat"]
    return [f"chain: {data['chain_cycles_per_second']:,.0f} cycles per second of ECG "
            f"({data['chain_cycles'] / data['samples']:,.0f} per sample); model: "
            + (f"{per_beat:,.0f} cycles per beat" if per_beat is not None else "no beat") + f" {timing}"]


def vibration_cycle_lines(data: dict, timing: str) -> list[str]:
    if not data["windows"]:
        return []
    return [f"per window: chain {data['chain_cycles_per_window']:,.0f} cycles "
            f"({data['chain_cycles_per_sample']:,.1f} per sample, the window's int8 copy included), model "
            f"{data['model_cycles_per_window']:,.0f} cycles {timing}"]


def ecg_energy_lines(energy: dict) -> list[str]:
    parts = ", ".join(f"{name} {value:.2f}" for name, value in energy["current_parts_ua"].items())
    return [f"energy of the job at {energy['beats_per_minute']:g} beats per minute: "
            f"{energy['average_current_ua']:.2f} uA average ({parts} uA), "
            f"{energy['average_power_uw']:.1f} uW, {energy['energy_per_beat_uj']:.2f} uJ per beat, "
            f"{energy['battery_days']:,.0f} days on a {energy['cell']} ({energy['cell_capacity_mah']:g} mAh), "
            f"CPU busy {energy['cpu_duty']:.2%} of the time",
            f"figures: {energy['cpu_figures']}; {energy['sampling_figures']}"]


def vibration_energy_lines(energy: dict) -> list[str]:
    parts = ", ".join(f"{name} {value:.3f}" for name, value in energy["current_parts_ua"].items())
    return [f"energy of the job at {energy['windows_per_minute']:g} windows per minute: "
            f"{energy['average_current_ua']:.3f} uA average ({parts} uA), "
            f"{energy['average_power_uw']:.2f} uW, {energy['energy_per_window_uj']:.1f} uJ per window "
            f"({energy['active_energy_per_window_uj']:.1f} uJ awake, {energy['active_ms_per_window']:.2f} ms), "
            f"{energy['battery_days']:,.0f} days on a {energy['cell']} ({energy['cell_capacity_mah']:g} mAh)",
            f"figures: {energy['cpu_figures']}; {energy['sampling_figures']}; {energy['fifo_readout']}; "
            f"{energy['sensor']}"]


# What each task's monitor.json says about its cycles and its energy differs (tinyqi.emulate.monitor_<task>).
CYCLE_LINES = {"ecg": ecg_cycle_lines, "vibration": vibration_cycle_lines}
ENERGY_LINES = {"ecg": ecg_energy_lines, "vibration": vibration_energy_lines}
